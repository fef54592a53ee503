/**
 * A failure the person running qbsync can act on: bad configuration, an unreachable service, a
 * wrong argument. Entry points print its message on one line, without a stack trace.
 */
export class OperatorError extends Error {
  override readonly name: string = 'OperatorError';
}
