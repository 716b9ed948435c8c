// Document text is untrusted: it reaches the page only as text or through
// DOMPurify, and never as markup of its own. Search snippets are HTML whose
// only tag is <mark> (Lode escapes the document's text in them); Markdown's
// raw HTML is shown as text, so what DOMPurify parses holds no markup from
// the document (no handler even in its inert parse, where the page's CSP
// would have to refuse it).
import DOMPurify from "dompurify";
import { Marked } from "marked";

/** Snippets may carry `<mark>` around query words; nothing else survives. */
export function Snippet({ html }: { html: string }) {
  const clean = DOMPurify.sanitize(html, { ALLOWED_TAGS: ["mark"], ALLOWED_ATTR: [] });
  return <span class="snippet" dangerouslySetInnerHTML={{ __html: clean }} />;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** Markdown with HTML blocks and inline HTML rendered as their text. */
const markdown = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html({ text }) {
      return escape(text);
    },
  },
});

/** Markdown rendered, then sanitised; links open outside the app, images are not loaded. */
export function Markdown({ text }: { text: string }) {
  const html = markdown.parse(text) as string;
  const clean = DOMPurify.sanitize(html, {
    FORBID_TAGS: ["img", "style", "form", "input", "button", "iframe", "object", "embed", "video", "audio"],
    FORBID_ATTR: ["style"],
  });
  return <div class="markdown" dangerouslySetInnerHTML={{ __html: clean }} />;
}

// Links in documents leave the app safely.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});
