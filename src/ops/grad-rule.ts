/**
 * The shape of a gradient rule, consumed by src/train's backward builder. Owned by the training engine;
 * kept here so that the registry can hold one rule per op.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type GradRule = any;
