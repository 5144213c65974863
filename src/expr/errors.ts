/** Errors of expressions: where in the expression, and what kind (syntax, type, budget, evaluation). */

export type ExpressionErrorKind = 'syntax' | 'type' | 'budget' | 'evaluation';

/** An expression that cannot be parsed, checked or evaluated. `offset` is inside the expression source. */
export class ExpressionError extends Error {
  readonly kind: ExpressionErrorKind;
  readonly offset: number;
  constructor(kind: ExpressionErrorKind, message: string, offset = 0) {
    super(message);
    this.name = 'ExpressionError';
    this.kind = kind;
    this.offset = offset;
  }
}
