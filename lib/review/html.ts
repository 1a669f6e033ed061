import { Marked, Tokens } from 'marked';
import { BuildInfo, fingerprintMarker } from './build-info';

export interface ReviewHeader {
  /** When the review was generated. */
  readonly generatedAt: string;
  /** The assembly directory as the user named it. */
  readonly assembly: string;
  /** SHA-256 of the assembly's templates (a later synth compares it to mark the review stale). */
  readonly fingerprint: string;
  /** From the assembly's docai-build-info.json; absent for assemblies of other apps. */
  readonly build?: BuildInfo;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The header lines both renderings carry: where the review came from and when. */
export function headerFacts(h: ReviewHeader): Array<[string, string]> {
  const b = h.build;
  return [
    ['review generated', h.generatedAt],
    ['assembly', h.assembly],
    ['synthesized', b?.synthesizedAt ?? 'unknown (no docai-build-info.json in the assembly)'],
    ['git commit', b?.gitCommit ?? 'unknown'],
    ['aws-cdk-lib', b?.awsCdkLibVersion ?? 'unknown'],
    ['stage', b ? `${b.stage} (project ${b.projectName})` : 'unknown'],
    ['context', b ? Object.entries(b.context).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') || '(none beyond cdk.json feature flags)' : 'unknown'],
    ['templates fingerprint (SHA-256)', h.fingerprint],
  ];
}

/** The Markdown review with its header: a comment with the fingerprint, then the facts as a list. */
export function withMarkdownHeader(markdown: string, h: ReviewHeader): string {
  const [title, ...rest] = markdown.split('\n');
  const facts = headerFacts(h).map(([k, v]) => `- ${k}: \`${v.replace(/`/g, "'")}\``);
  return [`<!-- ${fingerprintMarker(h.fingerprint)} -->`, title, '', ...facts, ...rest].join('\n');
}

/**
 * The review as one self-contained HTML page: escaped as the Markdown says (rendered by marked),
 * a header with where it came from, a table of contents of every section, and tables that wrap
 * long cells and scroll instead of running off the page.
 */
export function securityReviewHtml(markdown: string, h: ReviewHeader): string {
  const slugs = new Map<string, number>();
  const toc: Array<{ depth: number; id: string; html: string }> = [];
  const marked = new Marked({ gfm: true });
  marked.use({
    renderer: {
      heading(this: { parser: { parseInline(tokens: Tokens.Generic[]): string } }, { tokens, depth, text }: Tokens.Heading): string {
        const html = this.parser.parseInline(tokens);
        const base = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'section';
        const n = slugs.get(base) ?? 0;
        slugs.set(base, n + 1);
        const id = n ? `${base}-${n}` : base;
        if (depth === 2 || depth === 3) toc.push({ depth, id, html });
        return `<h${depth} id="${id}">${html}</h${depth}>\n`;
      },
    },
  });
  const body = marked.parse(markdown, { async: false }) as string;
  const tocHtml = ['<nav class="toc" aria-label="Contents"><h2>Contents</h2><ul>'];
  let open = false;
  for (const t of toc) {
    if (t.depth === 2) {
      if (open) tocHtml.push('</ul></li>');
      tocHtml.push(`<li><a href="#${t.id}">${t.html}</a><ul>`);
      open = true;
    } else {
      tocHtml.push(`<li><a href="#${t.id}">${t.html}</a></li>`);
    }
  }
  if (open) tocHtml.push('</ul></li>');
  tocHtml.push('</ul></nav>');
  const facts = headerFacts(h).map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td><code>${escapeHtml(v)}</code></td></tr>`).join('\n');
  const [title, ...rest] = body.split('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="docai-assembly-fingerprint" content="${h.fingerprint}">
<!-- ${fingerprintMarker(h.fingerprint)} -->
<title>Security review${h.build ? ` of ${escapeHtml(h.build.projectName)}-${escapeHtml(h.build.stage)}` : ''}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:96rem;padding:0 1rem;line-height:1.4}
table{border-collapse:collapse;margin:.5rem 0;display:block;max-width:100%;overflow-x:auto}
td,th{border:1px solid #ccc;padding:.2rem .4rem;vertical-align:top;font-size:.9rem;text-align:left;overflow-wrap:break-word}
td code,li code{overflow-wrap:anywhere}
code{font-size:.85rem;background:#f4f4f4;padding:0 .15rem}
strong{color:#a40000}
.facts th{background:#f4f4f4;white-space:nowrap}
.toc{border:1px solid #ccc;padding:.5rem 1rem;margin:1rem 0;columns:2}
.toc ul{margin:.2rem 0;padding-left:1.2rem}
.toc h2{margin:.2rem 0;column-span:all}
.stale{background:#fee;border:2px solid #a40000;padding:.5rem;font-weight:bold}
</style>
</head><body>
<table class="facts">
${facts}
</table>
${tocHtml.join('\n')}
<main>
${title}
${rest.join('\n')}</main>
</body></html>
`;
}
