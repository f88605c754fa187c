import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';

export interface TemplateError {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatError(e: TemplateError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}`;
}

export type YamlPath = ReadonlyArray<string | number>;

/** A parsed YAML file that can answer "where is this path?" for error messages. */
export class YamlSource {
  readonly doc: Document.Parsed;
  private readonly lines = new LineCounter();

  constructor(readonly file: string, text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
  }

  syntaxErrors(): TemplateError[] {
    return this.doc.errors.map((err) => {
      const { line, col } = this.lines.linePos(err.pos[0]);
      // The yaml library appends a code excerpt after the first line; keep the sentence only.
      const message = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      return { file: this.file, line, col, message: `YAML syntax error: ${message}` };
    });
  }

  /**
   * The document as plain data. Aliases that expand without bound (a "billion laughs" file)
   * are refused by the yaml library; that becomes an error at the first alias, not a crash.
   */
  toJS(): { value: unknown } | { error: TemplateError } {
    try {
      return { value: this.doc.toJS({ maxAliasCount: 100 }) };
    } catch (err) {
      let at = 0;
      visit(this.doc, {
        Alias: (_key, node) => {
          if (isAlias(node)) at = node.range?.[0] ?? 0;
          return visit.BREAK;
        },
      });
      const why = err instanceof ReferenceError ? 'its aliases expand too much (more than 100 alias expansions)' : (err as Error).message;
      return { error: { file: this.file, ...this.lines.linePos(at), message: `YAML cannot be loaded: ${why}` } };
    }
  }

  /**
   * Position of the node at `path`, or of the deepest ancestor that exists (a missing key is
   * reported at the key that owns it). `atKey` points at the map key instead of its value.
   * Map keys match exactly first, then ignoring the case of their first letter (Funcraft's
   * PascalCase keys are camelCase in the model).
   */
  locate(path: YamlPath, atKey = false): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let best: number = (node as Node | null)?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair =
          node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg)) ??
          node.items.find((p) => isScalar(p.key) && String(p.key.value).toLowerCase() === String(seg).toLowerCase());
        if (!pair || !isPair(pair)) break;
        const keyNode = pair.key as Node;
        best = keyNode.range?.[0] ?? best;
        if (last && atKey) break;
        node = pair.value;
        // A key with no value (`handler:`) has no range of its own; stay on the key.
        const valueStart = (node as Node | null)?.range?.[0];
        if (valueStart !== undefined && last) best = valueStart;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        best = item.range?.[0] ?? best;
        node = item;
      } else {
        break;
      }
    }
    return this.lines.linePos(best);
  }

  errorAt(path: YamlPath, message: string, atKey = false): TemplateError {
    return { file: this.file, ...this.locate(path, atKey), message };
  }
}
