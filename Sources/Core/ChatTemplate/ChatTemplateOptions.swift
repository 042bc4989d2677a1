/// How a ``ChatTemplate`` lexes whitespace and which resource bounds rendering obeys.
///
/// The defaults match Hugging Face transformers, which renders chat templates with
/// `ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)`: the first newline
/// after a block tag is dropped and a block tag's leading indentation is stripped. Plain Jinja's
/// own defaults are `trimBlocks: false, lstripBlocks: false`.
public struct ChatTemplateOptions: Sendable, Equatable {
  /// Remove the first newline after a block (`{% … %}`) or comment tag. Default `true` (HF).
  public var trimBlocks: Bool
  /// Strip spaces and tabs from the start of a line up to a block or comment tag.
  /// Default `true` (HF).
  public var lstripBlocks: Bool
  /// Keep a single trailing newline of the source (Jinja drops it by default).
  public var keepTrailingNewline: Bool
  /// The deepest nesting of statements, expressions or macro calls accepted.
  public var maxNestingDepth: Int
  /// The most bytes of output (and of any intermediate string) a render may produce.
  public var maxOutputBytes: Int
  /// The most loop iterations, summed over all loops, a render may perform.
  public var maxLoopIterations: Int

  /// Creates options; the defaults are Hugging Face's whitespace settings and generous bounds.
  public init(
    trimBlocks: Bool = true,
    lstripBlocks: Bool = true,
    keepTrailingNewline: Bool = false,
    maxNestingDepth: Int = 64,
    maxOutputBytes: Int = 16 << 20,
    maxLoopIterations: Int = 1_000_000
  ) {
    self.trimBlocks = trimBlocks
    self.lstripBlocks = lstripBlocks
    self.keepTrailingNewline = keepTrailingNewline
    self.maxNestingDepth = maxNestingDepth
    self.maxOutputBytes = maxOutputBytes
    self.maxLoopIterations = maxLoopIterations
  }

  /// Jinja's own defaults: no block trimming or left-stripping.
  public static let jinjaDefaults = ChatTemplateOptions(trimBlocks: false, lstripBlocks: false)

  var limits: TemplateResourceLimits {
    TemplateResourceLimits(
      maxOutputBytes: maxOutputBytes, maxLoopIterations: maxLoopIterations,
      maxNestingDepth: maxNestingDepth)
  }
}
