/**
 * The model-agnostic core: the model interface, the fit loop, optimizers and
 * clipping, checkpoints, resume, the run directory and its lock, schedules,
 * memory estimates and plots.
 *
 * @module
 */
export * from "./checkpoint.ts";
export * from "./config_checks.ts";
export * from "./fit.ts";
export * from "./memory.ts";
export * from "./model.ts";
export * from "./named_weights.ts";
export * from "./optimizer_state.ts";
export * from "./plot.ts";
export * from "./run.ts";
export * from "./run_lock.ts";
export * from "./schedule.ts";
export * from "./settings.ts";
export * from "./task_run.ts";
export * from "./train.ts";
