/**
 * Errors the CLI reports as one line. `InputError` is bad usage or bad input (exit 2); `GoalError` is a goal
 * that cannot be met (exit 3); anything else is a bug and keeps its stack under --verbose.
 */
export class InferoptError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InputError extends InferoptError {
  constructor(message: string) {
    super(message, 2);
  }
}

export class GoalError extends InferoptError {
  constructor(message: string) {
    super(message, 3);
  }
}
