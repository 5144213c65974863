/** `${{ }}` templates over CEL (pure). */
export {
  type Budget,
  compileExpression,
  type CompiledExpression,
  DEFAULT_BUDGET,
  ExpressionError,
  fromCel,
  SCOPE_ROOTS,
  toCel,
  typeCheck,
} from './cel.ts';
export { collectReferences, type Reference } from './refs.ts';
export { evaluateTemplate, renderValue, templateReferences } from './render.ts';
export { hasTemplate, parseTemplate, type Template, type TemplatePart, TemplateSyntaxError } from './template.ts';
