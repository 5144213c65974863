/** The budgets every YAML document is read under (RELIABILITY.md 4.5). */

export interface YamlLimits {
  /** Largest accepted document, in bytes of UTF-8. */
  readonly maxBytes: number;
  /** Deepest nesting of collections. */
  readonly maxDepth: number;
  /**
   * Nodes that aliases may add on top of the nodes written in the file. A string counts as one
   * node per STRING_CHARS_PER_NODE characters (at least one).
   */
  readonly maxAliasNodes: number;
  /** Items in one mapping or sequence. */
  readonly maxCollectionItems: number;
  /** Nodes (scalars, mappings, sequences, aliases) written in the whole document. */
  readonly maxNodes: number;
  /** Characters in one string. */
  readonly maxStringLength: number;
}

/** For the alias budget: the characters of a string that weigh as much as one node. */
export const STRING_CHARS_PER_NODE = 32;

export const DEFAULT_YAML_LIMITS: YamlLimits = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDepth: 64,
  maxAliasNodes: 10_000,
  maxCollectionItems: 20_000,
  maxNodes: 300_000,
  maxStringLength: 256 * 1024,
});
