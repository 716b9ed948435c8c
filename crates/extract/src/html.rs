//! HTML to Markdown: the main content only (navigation, chrome and scripts
//! dropped; `<main>` or `<article>` preferred), with headings, lists, tables,
//! links, code, quotes and emphasis kept as Markdown.

use encoding_rs::Encoding;
use scraper::node::Node;
use scraper::{ElementRef, Html};

use crate::text::{decode_text, normalize};
use crate::{ExtractError, Extracted};

/// Deeper than this, an element's subtree is flattened to text instead of
/// recursed into, so hostile nesting cannot overflow the stack.
const MAX_DEPTH: usize = 128;
/// Widest table we lay out as a pipe table; wider ones are cut.
const MAX_TABLE_COLUMNS: usize = 64;

/// Decodes and converts an HTML document.
pub(crate) fn extract(bytes: &[u8], charset: Option<&str>) -> Result<Extracted, ExtractError> {
    let declared = charset
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .or_else(|| sniff_meta_charset(bytes))
        .map(|e| e.output_encoding());
    let source = decode_text(bytes, declared)?;
    let doc = Html::parse_document(&source);
    let root = doc.root_element();

    let mut title = None;
    let mut og_title = None;
    let mut author = None;
    for el in root.descendent_elements() {
        let value = el.value();
        match value.name() {
            "title" if title.is_none() => {
                let text = collapse(&el.text().collect::<String>());
                if !text.is_empty() {
                    title = Some(text);
                }
            }
            "meta" => {
                let content = value
                    .attr("content")
                    .map(collapse)
                    .filter(|c| !c.is_empty());
                let name = value.attr("name").unwrap_or("");
                let property = value.attr("property").unwrap_or("");
                if name.eq_ignore_ascii_case("author") && author.is_none() {
                    author = content;
                } else if (property.eq_ignore_ascii_case("og:title")
                    || name.eq_ignore_ascii_case("og:title"))
                    && og_title.is_none()
                {
                    og_title = content;
                }
            }
            _ => {}
        }
    }
    let language = root
        .value()
        .attr("lang")
        .or_else(|| root.value().attr("xml:lang"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string);

    let mut blocks = Vec::new();
    let content_roots = content_roots(root);
    let in_content = !content_roots.is_empty();
    let roots = if in_content {
        content_roots
    } else {
        let body = root
            .descendent_elements()
            .find(|e| e.value().name() == "body");
        vec![body.unwrap_or(root)]
    };
    let ctx = Ctx {
        in_content,
        depth: 0,
    };
    for r in roots {
        let mut inline = String::new();
        walk_children(r, ctx, &mut blocks, &mut inline);
        flush(&mut inline, &mut blocks);
    }
    let markdown = normalize(&blocks.join("\n\n"));
    Ok(Extracted {
        markdown,
        title: title.or(og_title).map(|t| normalize(&t)),
        author: author.map(|a| normalize(&a)),
        language,
        ..Extracted::default()
    })
}

/// The `<main>` element, else the outermost `<article>` elements, else none.
fn content_roots(root: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    if let Some(main) = root
        .descendent_elements()
        .find(|e| e.value().name() == "main" && !dropped(*e, true))
    {
        return vec![main];
    }
    root.descendent_elements()
        .filter(|e| e.value().name() == "article")
        .filter(|e| {
            !e.ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| a.value().name() == "article")
        })
        .collect()
}

/// Looks for `<meta charset=...>` or an `http-equiv` content type in the
/// first 1024 bytes, as the HTML prescan does.
fn sniff_meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head: Vec<u8> = bytes
        .iter()
        .take(1024)
        .map(u8::to_ascii_lowercase)
        .collect();
    let mut from = 0;
    while let Some(pos) = find(head.get(from..)?, b"<meta") {
        let start = from.checked_add(pos)?;
        let tag_end = head
            .get(start..)?
            .iter()
            .position(|&b| b == b'>')
            .map_or(head.len(), |p| start.saturating_add(p));
        let tag = head.get(start..tag_end)?;
        if let Some(cs) = find(tag, b"charset") {
            let rest = tag.get(cs.saturating_add(7)..).unwrap_or_default();
            let rest = trim_ascii_start(rest);
            if let Some(rest) = rest.strip_prefix(b"=") {
                let rest = trim_ascii_start(rest);
                let rest = rest
                    .strip_prefix(b"\"")
                    .or_else(|| rest.strip_prefix(b"'"))
                    .unwrap_or(rest);
                let label: Vec<u8> = rest
                    .iter()
                    .copied()
                    .take_while(|b| {
                        !matches!(b, b'"' | b'\'' | b';' | b'>' | b'/') && !b.is_ascii_whitespace()
                    })
                    .collect();
                if let Some(encoding) = Encoding::for_label(&label) {
                    // The prescan treats a UTF-16 declaration as UTF-8: it was
                    // read as ASCII, so it cannot be UTF-16.
                    if encoding == encoding_rs::UTF_16BE || encoding == encoding_rs::UTF_16LE {
                        return Some(encoding_rs::UTF_8);
                    }
                    return Some(encoding);
                }
            }
        }
        from = tag_end;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Where in the document we are while rendering.
#[derive(Clone, Copy)]
struct Ctx {
    /// Inside `<main>`/`<article>`, where a `<header>` holds the article's
    /// own title rather than site chrome.
    in_content: bool,
    depth: usize,
}

impl Ctx {
    fn deeper(self) -> Self {
        Self {
            depth: self.depth.saturating_add(1),
            ..self
        }
    }
}

/// Elements that are never content, and ARIA roles that mark chrome.
fn dropped(el: ElementRef<'_>, in_content: bool) -> bool {
    let value = el.value();
    let name = value.name();
    if matches!(
        name,
        "script"
            | "style"
            | "nav"
            | "footer"
            | "aside"
            | "form"
            | "noscript"
            | "template"
            | "head"
            | "svg"
            | "math"
            | "iframe"
            | "object"
            | "embed"
            | "canvas"
            | "button"
            | "select"
            | "input"
            | "textarea"
            | "dialog"
            | "link"
            | "meta"
            | "title"
    ) {
        return true;
    }
    if name == "header" && !in_content {
        return true;
    }
    if value.attr("hidden").is_some()
        || value
            .attr("aria-hidden")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return true;
    }
    if let Some(role) = value.attr("role") {
        let role = role.trim().to_ascii_lowercase();
        if matches!(
            role.as_str(),
            "navigation"
                | "banner"
                | "contentinfo"
                | "complementary"
                | "search"
                | "menu"
                | "menubar"
                | "toolbar"
                | "dialog"
                | "alertdialog"
        ) {
            return true;
        }
    }
    false
}

/// Collapses runs of whitespace to one space and trims.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Appends `text` to an inline buffer with HTML whitespace collapsing.
fn push_text(inline: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_whitespace() {
            if !inline.is_empty() && !inline.ends_with([' ', '\n']) {
                inline.push(' ');
            }
        } else {
            inline.push(c);
        }
    }
}

/// Ends the current paragraph: its trimmed lines become one block.
fn flush(inline: &mut String, blocks: &mut Vec<String>) {
    let lines: Vec<&str> = inline
        .split('\n')
        .map(|l| l.trim_matches(' '))
        .filter(|l| !l.is_empty())
        .collect();
    if !lines.is_empty() {
        blocks.push(lines.join("  \n"));
    }
    inline.clear();
}

fn walk_children(el: ElementRef<'_>, ctx: Ctx, blocks: &mut Vec<String>, inline: &mut String) {
    for child in el.children() {
        match child.value() {
            Node::Text(text) => push_text(inline, text),
            Node::Element(_) => {
                if let Some(child) = ElementRef::wrap(child) {
                    walk_element(child, ctx.deeper(), blocks, inline);
                }
            }
            _ => {}
        }
    }
}

/// The element's content as one line of inline Markdown, whitespace kept at
/// the ends (as a single space) so that surrounding words stay apart.
fn inline_raw(el: ElementRef<'_>, ctx: Ctx) -> String {
    let mut blocks = Vec::new();
    let mut inline = String::new();
    walk_children(el, ctx, &mut blocks, &mut inline);
    let lead = inline.starts_with(' ') && blocks.is_empty();
    let trail = inline.ends_with(' ');
    flush(&mut inline, &mut blocks);
    let body = blocks.join(" ").replace("  \n", " ").replace('\n', " ");
    let mut out = String::new();
    if lead {
        out.push(' ');
    }
    out.push_str(body.trim());
    if trail && !body.trim().is_empty() {
        out.push(' ');
    }
    out
}

/// Pushes `marker + content + marker`, keeping outer spaces outside.
fn push_wrapped(inline: &mut String, raw: &str, open: &str, close: &str) {
    let body = raw.trim();
    if body.is_empty() {
        push_text(inline, raw);
        return;
    }
    if raw.starts_with(' ') {
        push_text(inline, " ");
    }
    inline.push_str(open);
    inline.push_str(body);
    inline.push_str(close);
    if raw.ends_with(' ') {
        push_text(inline, " ");
    }
}

fn walk_element(el: ElementRef<'_>, ctx: Ctx, blocks: &mut Vec<String>, inline: &mut String) {
    if dropped(el, ctx.in_content) {
        return;
    }
    if ctx.depth > MAX_DEPTH {
        push_text(inline, " ");
        push_text(inline, &el.text().collect::<String>());
        push_text(inline, " ");
        return;
    }
    let name = el.value().name();
    match name {
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            flush(inline, blocks);
            let level = name
                .get(1..)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(1);
            let text = inline_raw(el, ctx);
            let text = text.trim();
            if !text.is_empty() {
                blocks.push(format!("{} {}", "#".repeat(level), text));
            }
        }
        "ul" | "ol" | "menu" => {
            flush(inline, blocks);
            let list = render_list(el, ctx);
            if !list.is_empty() {
                blocks.push(list);
            }
        }
        "table" => {
            flush(inline, blocks);
            let table = render_table(el, ctx);
            if !table.is_empty() {
                blocks.push(table);
            }
        }
        "pre" => {
            flush(inline, blocks);
            blocks.push(render_pre(el));
        }
        "blockquote" => {
            flush(inline, blocks);
            let inner = render_blocks(el, ctx);
            if !inner.is_empty() {
                let quoted: Vec<String> = inner
                    .lines()
                    .map(|l| {
                        if l.is_empty() {
                            ">".to_string()
                        } else {
                            format!("> {l}")
                        }
                    })
                    .collect();
                blocks.push(quoted.join("\n"));
            }
        }
        "hr" => {
            flush(inline, blocks);
            blocks.push("---".to_string());
        }
        "br" => inline.push('\n'),
        "a" => {
            let raw = inline_raw(el, ctx);
            let href = el.value().attr("href").map(str::trim).unwrap_or("");
            let usable = !href.is_empty()
                && !href.starts_with('#')
                && !href.to_ascii_lowercase().starts_with("javascript:");
            if usable && !raw.trim().is_empty() {
                let href = href
                    .replace(' ', "%20")
                    .replace(')', "%29")
                    .replace('(', "%28");
                let close = format!("]({href})");
                push_wrapped(inline, &raw, "[", &close);
            } else {
                push_text(inline, &raw);
            }
        }
        "strong" | "b" => push_wrapped(inline, &inline_raw(el, ctx), "**", "**"),
        "em" | "i" | "cite" | "dfn" => push_wrapped(inline, &inline_raw(el, ctx), "*", "*"),
        "del" | "s" | "strike" => push_wrapped(inline, &inline_raw(el, ctx), "~~", "~~"),
        "code" | "kbd" | "samp" | "tt" => {
            let text: String = el.text().collect();
            let text = collapse(&text);
            if !text.is_empty() {
                let ticks = "`".repeat(longest_run(&text, '`').saturating_add(1));
                let pad = if text.starts_with('`') || text.ends_with('`') {
                    " "
                } else {
                    ""
                };
                inline.push_str(&format!("{ticks}{pad}{text}{pad}{ticks}"));
            }
        }
        "img" => {
            if let Some(alt) = el.value().attr("alt") {
                push_text(inline, " ");
                push_text(inline, alt);
                push_text(inline, " ");
            }
        }
        "p" | "div" | "section" | "article" | "main" | "header" | "figure" | "figcaption"
        | "address" | "dl" | "dt" | "dd" | "details" | "summary" | "center" | "fieldset"
        | "legend" | "body" | "html" | "hgroup" | "search" | "li" | "caption" | "tr" => {
            flush(inline, blocks);
            let ctx = if matches!(name, "article" | "main") {
                Ctx {
                    in_content: true,
                    ..ctx
                }
            } else {
                ctx
            };
            walk_children(el, ctx, blocks, inline);
            flush(inline, blocks);
        }
        "td" | "th" => {
            walk_children(el, ctx, blocks, inline);
            push_text(inline, " ");
        }
        _ => walk_children(el, ctx, blocks, inline),
    }
}

/// The element's children rendered as Markdown blocks.
fn render_blocks(el: ElementRef<'_>, ctx: Ctx) -> String {
    let mut blocks = Vec::new();
    let mut inline = String::new();
    walk_children(el, ctx, &mut blocks, &mut inline);
    flush(&mut inline, &mut blocks);
    join_item_blocks(&blocks)
}

/// Joins blocks with a blank line, except that a nested list follows its
/// paragraph directly (a tight list).
fn join_item_blocks(blocks: &[String]) -> String {
    let mut out = String::new();
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            let list = block.starts_with("- ")
                || block
                    .split_once(". ")
                    .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            out.push_str(if list { "\n" } else { "\n\n" });
        }
        out.push_str(block);
    }
    out
}

fn render_list(el: ElementRef<'_>, ctx: Ctx) -> String {
    let ordered = el.value().name() == "ol";
    let mut number: i64 = el
        .value()
        .attr("start")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1);
    let mut items = Vec::new();
    for child in el.children() {
        let content = match child.value() {
            Node::Element(_) => {
                let Some(child) = ElementRef::wrap(child) else {
                    continue;
                };
                if dropped(child, ctx.in_content) {
                    continue;
                }
                if child.value().name() == "li" {
                    render_blocks(child, ctx.deeper())
                } else {
                    // Stray content (a nested list not wrapped in <li>, say).
                    let mut blocks = Vec::new();
                    let mut inline = String::new();
                    walk_element(child, ctx.deeper(), &mut blocks, &mut inline);
                    flush(&mut inline, &mut blocks);
                    if blocks.is_empty() {
                        continue;
                    }
                    let text = join_item_blocks(&blocks);
                    if let Some(last) = items.last_mut() {
                        let last: &mut String = last;
                        last.push('\n');
                        last.push_str(&indent(&text, 2));
                        continue;
                    }
                    text
                }
            }
            Node::Text(text) if !text.trim().is_empty() => collapse(text),
            _ => continue,
        };
        if content.is_empty() {
            continue;
        }
        let marker = if ordered {
            let m = format!("{number}. ");
            number = number.saturating_add(1);
            m
        } else {
            "- ".to_string()
        };
        let body = indent(&content, marker.len());
        items.push(format!("{marker}{}", body.trim_start()));
    }
    items.join("\n")
}

/// Indents every line but the first by `width` spaces.
fn indent(text: &str, width: usize) -> String {
    let pad = " ".repeat(width);
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    out
}

fn longest_run(text: &str, ch: char) -> usize {
    let mut best = 0usize;
    let mut run = 0usize;
    for c in text.chars() {
        if c == ch {
            run = run.saturating_add(1);
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

fn render_pre(el: ElementRef<'_>) -> String {
    let text: String = el.text().collect();
    let text = text.strip_prefix('\n').unwrap_or(&text).trim_end();
    let class_lang = |e: ElementRef<'_>| {
        e.value().attr("class").and_then(|classes| {
            classes.split_whitespace().find_map(|c| {
                c.strip_prefix("language-")
                    .or_else(|| c.strip_prefix("lang-"))
                    .map(str::to_string)
            })
        })
    };
    let lang = class_lang(el)
        .or_else(|| {
            el.child_elements()
                .find(|c| c.value().name() == "code")
                .and_then(class_lang)
        })
        .unwrap_or_default();
    let fence = "`".repeat(longest_run(text, '`').saturating_add(1).max(3));
    format!("{fence}{lang}\n{text}\n{fence}")
}

fn render_table(el: ElementRef<'_>, ctx: Ctx) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut caption = None;
    collect_rows(el, ctx, &mut rows, &mut caption, 0);
    let columns = rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .min(MAX_TABLE_COLUMNS);
    let mut out = String::new();
    if let Some(caption) = caption {
        out.push_str(&caption);
        out.push_str("\n\n");
    }
    if columns == 0 {
        return out.trim_end().to_string();
    }
    for (i, row) in rows.iter().enumerate() {
        out.push('|');
        for c in 0..columns {
            let cell = row.get(c).map(String::as_str).unwrap_or("");
            out.push(' ');
            out.push_str(cell);
            out.push_str(" |");
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for _ in 0..columns {
                out.push_str(" --- |");
            }
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

/// Rows of this table (not of nested tables), each a list of cell texts.
fn collect_rows(
    el: ElementRef<'_>,
    ctx: Ctx,
    rows: &mut Vec<Vec<String>>,
    caption: &mut Option<String>,
    depth: usize,
) {
    if depth > 4 {
        return;
    }
    for child in el.child_elements() {
        match child.value().name() {
            "thead" | "tbody" | "tfoot" => {
                collect_rows(child, ctx, rows, caption, depth.saturating_add(1))
            }
            "caption" => {
                let text = inline_raw(child, ctx.deeper());
                if !text.trim().is_empty() {
                    *caption = Some(text.trim().to_string());
                }
            }
            "tr" => {
                let mut cells = Vec::new();
                for cell in child.child_elements() {
                    if !matches!(cell.value().name(), "td" | "th") {
                        continue;
                    }
                    let text = inline_raw(cell, ctx.deeper());
                    cells.push(text.trim().replace('|', "\\|"));
                    let span: usize = cell
                        .value()
                        .attr("colspan")
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(1)
                        .clamp(1, MAX_TABLE_COLUMNS);
                    for _ in 1..span {
                        cells.push(String::new());
                    }
                }
                if !cells.is_empty() {
                    rows.push(cells);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{ExtractError, Options, extract};

    fn md(html: &str) -> crate::Extracted {
        extract(html.as_bytes(), "text/html", &Options::default()).unwrap()
    }

    #[test]
    fn drops_chrome_and_prefers_main() {
        let out = md(
            r#"<!doctype html><html lang="en-GB"><head><title> My  Page </title>
            <meta name="author" content="Ada Lovelace"><script>var x = 1;</script>
            <style>p { color: red }</style></head><body>
            <header><h1>Site name</h1></header>
            <nav><a href="/">Home</a> <a href="/about">About</a></nav>
            <div role="navigation">Skip me</div>
            <main><h1>Real title</h1><p>Hello <b>bold</b> and <em>it</em> with
            <a href="https://example.com/x">a link</a>.</p></main>
            <aside>Related</aside><footer>Copyright</footer></body></html>"#,
        );
        assert_eq!(
            out.markdown,
            "# Real title\n\nHello **bold** and *it* with [a link](https://example.com/x)."
        );
        assert_eq!(out.title.as_deref(), Some("My Page"));
        assert_eq!(out.author.as_deref(), Some("Ada Lovelace"));
        assert_eq!(out.language.as_deref(), Some("en-GB"));
        assert!(out.pages.is_empty());
    }

    #[test]
    fn body_without_main_drops_nav() {
        let out = md(
            "<body><nav><ul><li>Home</li></ul></nav><h2>Intro</h2><p>Text.</p>\
                      <form><input value=x>Search</form><noscript>JS!</noscript></body>",
        );
        assert_eq!(out.markdown, "## Intro\n\nText.");
    }

    #[test]
    fn table_becomes_pipe_table() {
        let out = md(
            "<table><caption>Prices</caption><thead><tr><th>Item</th><th>Cost</th></tr></thead>\
                      <tbody><tr><td>Tea</td><td>£2</td></tr><tr><td>A|B</td><td colspan=1></td></tr>\
                      </tbody></table>",
        );
        assert_eq!(
            out.markdown,
            "Prices\n\n| Item | Cost |\n| --- | --- |\n| Tea | £2 |\n| A\\|B |  |"
        );
    }

    #[test]
    fn nested_lists_code_quote() {
        let out = md(
            "<article><ol><li>One<ul><li>a</li><li>b</li></ul></li><li>Two</li></ol>\
                      <pre><code class=\"language-rust\">fn main() {\n    x();\n}\n</code></pre>\
                      <blockquote><p>Quoted</p><p>More</p></blockquote><p>a<br>b <code>x</code></p></article>",
        );
        assert_eq!(
            out.markdown,
            "1. One\n   - a\n   - b\n2. Two\n\n```rust\nfn main() {\n    x();\n}\n```\n\n> Quoted\n>\n> More\n\na  \nb `x`"
        );
    }

    #[test]
    fn charset_from_meta() {
        let bytes = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\">\
                      </head><body><p>Caf\xe9 cr\xe8me</p></body></html>";
        let out = extract(bytes, "text/html", &Options::default()).unwrap();
        assert_eq!(out.markdown, "Café crème");
        let bytes = b"<meta charset='windows-1252'><p>na\xefve</p>";
        let out = extract(bytes, "text/html", &Options::default()).unwrap();
        assert_eq!(out.markdown, "naïve");
    }

    #[test]
    fn charset_from_media_type_beats_meta() {
        let bytes = b"<meta charset=utf-8><p>Gr\xfc\xdfe</p>";
        let out = extract(bytes, "text/html; charset=ISO-8859-1", &Options::default()).unwrap();
        assert_eq!(out.markdown, "Grüße");
    }

    #[test]
    fn og_title_and_header_inside_article() {
        let out = md(
            "<html><head><meta property=\"og:title\" content=\"OG\"></head><body>\
                      <article><header><h1>Post</h1></header><p>Body</p><footer>tags</footer></article></body></html>",
        );
        assert_eq!(out.title.as_deref(), Some("OG"));
        assert_eq!(out.markdown, "# Post\n\nBody");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = format!(
            "{}deep{}",
            "<div><span>".repeat(5000),
            "</span></div>".repeat(5000)
        );
        let out = md(&html);
        assert_eq!(out.markdown, "deep");
    }

    #[test]
    fn undecodable_html_without_charset_is_an_error_or_text() {
        // Random high bytes: chardetng guesses a legacy encoding; no panic either way.
        let bytes: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 256) as u8).collect();
        let result = extract(&bytes, "text/html", &Options::default());
        assert!(result.is_ok() || matches!(result, Err(ExtractError::Encoding(_))));
    }
}
