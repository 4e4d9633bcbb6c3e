import { strictEqual } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { makeOptimizer, OPTIMIZERS } from "../../lib/training/train.ts";
import { learningRateOf, setLearningRate } from "../../lib/training/_optimizer_fields.ts";

// A schedule and `--on-nan skip` change the rate between steps: the next update must use it.
for (const name of OPTIMIZERS) {
  Deno.test(`setLearningRate() changes the step ${name} takes next`, async () => {
    await tf.setBackend("cpu");
    const optimizer = makeOptimizer(name, 1);
    const v = tf.variable(tf.tensor1d([1]));
    setLearningRate(optimizer, 0);
    strictEqual(learningRateOf(optimizer), 0);
    optimizer.applyGradients({ [v.name]: tf.tensor1d([1]) });
    strictEqual((await v.data())[0], 1, "a rate of 0 leaves the weight as it was");
    setLearningRate(optimizer, 0.5);
    optimizer.applyGradients({ [v.name]: tf.tensor1d([1]) });
    strictEqual((await v.data())[0] < 1, true, "a rate of 0.5 moves it");
    v.dispose();
    optimizer.dispose();
  });
}
