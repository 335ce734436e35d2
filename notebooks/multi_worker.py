"""One worker of a multi-worker training run (notebook 11): the series' CNN, trained by every worker together.

Start one copy per machine (notebook 11 starts two on this one), each with the cluster and its own place in it in the
environment variable TF_CONFIG, for example for the first of two workers:

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, "task": {"type": "worker", "index": 0}}'
    python multi_worker.py --images 54000 --epochs 1

Every worker reads the same images, trains on its share of each batch, and adds its gradients to the others' before
each update, so all of them end with the same weights. Keras' `model.fit` does not work with this strategy in Keras 3
(keras-team/keras#20585), so the training loop is written out: `strategy.run` over a `tf.GradientTape` step.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time


def check_tf_config() -> None:
    """Stop with a clear message where TF_CONFIG cannot describe this worker's place in a cluster of workers."""
    text = os.environ.get("TF_CONFIG", "")
    try:
        config = (
            json.loads(text)
            if text
            else {"cluster": {"worker": ["localhost:0"]}, "task": {"type": "worker", "index": 0}}
        )
    except json.JSONDecodeError as error:
        sys.exit(f"TF_CONFIG is not valid JSON ({error}): {text[:80]}")
    workers = config.get("cluster", {}).get("worker") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    task = task if isinstance(task, dict) else {"type": task}
    if not isinstance(workers, list) or not workers:
        sys.exit('TF_CONFIG has no list of workers: {"cluster": {"worker": ["host:port", ...]}, "task": ...}')
    if task.get("type") != "worker" or task.get("index") not in range(len(workers)):
        sys.exit(
            f"TF_CONFIG's task {task} is not one of the {len(workers)} workers: "
            f'"task": {{"type": "worker", "index": 0 to {len(workers) - 1}}}, a different index on each machine'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=54_000, help="training images (all 54,000 by default)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-per-replica", type=int, default=64, help="images per worker in each step")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--save", help="where the first worker (the chief) saves the model, a .keras file")
    parser.add_argument("--stop-worker", type=int, help="stop this worker (its index) to see what the others do")
    parser.add_argument("--stop-after", type=int, default=3, help="... after so many steps, as a machine switched off")
    args = parser.parse_args()
    check_tf_config()  # first: a wrong TF_CONFIG stops here, before the seconds that importing TensorFlow takes

    import keras
    import numpy as np
    import tensorflow as tf

    import helpers  # beside this file: turns oneDNN on, imports TensorFlow quietly; the data and the series' CNN

    helpers.setup(args.seed)  # the same seed on every worker: the same first weights and the same order of images

    # 1. The strategy: reads TF_CONFIG, then waits until every worker of the cluster has started.
    print("connecting to the other workers", flush=True)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    task = strategy.cluster_resolver.task_id
    print(f"connected: worker {task}, {strategy.num_replicas_in_sync} replicas in all", flush=True)

    # 2. The data: global batches, split among the workers (each keeps its share of every batch).
    global_batch = args.batch_per_replica * strategy.num_replicas_in_sync
    if args.images < global_batch:
        sys.exit(
            f"--images {args.images}: fewer than one global batch ({global_batch} images); give at least that many"
        )
    (train_data, train_labels), (val_data, val_labels) = helpers.split_validation(*helpers.load_mnist()[0])
    images, labels = helpers.prepare(train_data[: args.images]), train_labels[: args.images]
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    dataset = dataset.shuffle(len(labels), seed=args.seed).repeat().batch(global_batch)  # an endless stream
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = strategy.experimental_distribute_dataset(dataset.with_options(options))

    # 3. The model and its optimizer, made inside the strategy's scope: their variables are mirrored on every worker.
    with strategy.scope():
        model = helpers.build_model("cnn")
        optimizer = keras.optimizers.Adam()
        optimizer.build(model.trainable_variables)
    loss_function = keras.losses.SparseCategoricalCrossentropy(reduction=None)  # one loss per image

    def step(images, labels):  # runs on each worker, on its share of the global batch
        with tf.GradientTape() as tape:
            losses = loss_function(labels, model(images, training=True))
            loss = tf.nn.compute_average_loss(losses, global_batch_size=global_batch)  # the sum / the global batch
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)  # the workers' gradients are summed first
        return loss

    @tf.function
    def train_step(batch):
        per_worker = strategy.run(step, args=batch)
        return strategy.reduce("SUM", per_worker, axis=None)  # the global batch's mean loss

    # 4. The training loop: the same number of steps on every worker, counted (the stream never ends).
    start, steps, stream = time.perf_counter(), 0, iter(batches)
    steps_per_epoch = len(labels) // global_batch
    for epoch in range(args.epochs):
        total = 0.0
        for _ in range(steps_per_epoch):
            total += train_step(next(stream))
            steps += 1
            if task == args.stop_worker and steps == args.stop_after:
                print(f"stopping after {steps} steps, as asked (--stop-worker)", file=sys.stderr, flush=True)
                os._exit(3)  # at once, as a machine that is switched off
        print(
            f"epoch {epoch + 1}: {steps_per_epoch} steps of {global_batch} images, loss "
            f"{float(total) / steps_per_epoch:.4f}",
            flush=True,
        )
    seconds = time.perf_counter() - start

    # 5. Every worker has the same weights now: measure them on the validation set, and show a fingerprint of them.
    predicted = np.concatenate(
        [np.argmax(model(batch, training=False), axis=1) for batch in np.array_split(helpers.prepare(val_data), 6)]
    )
    weights = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.weights)).hexdigest()[:16]
    if (
        args.save
    ):  # every worker saves, as saving may need all of them: the chief where asked, the others in a temporary
        folder = tempfile.mkdtemp()  # folder they then delete
        helpers.save_model(model, args.save if task == 0 else os.path.join(folder, "model.keras"), overwrite=True)
        shutil.rmtree(folder)
    print(
        "result: "
        + json.dumps(
            {
                "worker": task,
                "replicas": strategy.num_replicas_in_sync,
                "global_batch": global_batch,
                "steps": steps,
                "seconds": round(seconds, 2),
                "validation_accuracy": float(np.mean(predicted == val_labels)),
                "weights": weights,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
