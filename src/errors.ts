/**
 * Errors the CLI reports as one line. `InputError` is bad usage or bad input (exit 2); `GoalError` is a goal
 * that cannot be met (exit 3); anything else is a bug and keeps its stack under --verbose.
 */
export class InferoptError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    // one line, always: names that carry line breaks (files, nodes, keys) are shown escaped, not obeyed
    super(message.replace(/\r\n|[\r\n\u2028\u2029]/g, (c) => (c === '\n' || c === '\r\n' ? '\\n' : c === '\r' ? '\\r' : '\\u' + c.charCodeAt(0).toString(16))));
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
