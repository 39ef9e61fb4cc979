//! A package README, rendered safely: a small Markdown subset (headings,
//! paragraphs, lists, block quotes, tables, code, emphasis, links) parsed
//! here and drawn with Leptos elements.
//!
//! Guarantees: no HTML from the README reaches the browser as markup: every
//! piece of text becomes a text node (so `<script>` in a README shows as
//! those characters); a link keeps its `href` only when it is an absolute
//! `http://` or `https://` URL (anything else, `javascript:` included, shows
//! as plain text) and opens with `rel="noopener noreferrer nofollow"`; images
//! are never loaded (their alternative text is shown, linked when the image
//! is on http(s)). Parsing is linear in the text and nesting is bounded.

use leptos::prelude::*;

/// A run of text and its emphasis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Code(String),
    Strong(Vec<Inline>),
    Emphasis(Vec<Inline>),
    /// Only ever built with a checked http(s) `href`.
    Link {
        href: String,
        children: Vec<Inline>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// Level 1–6 as written.
    Heading(u8, Vec<Inline>),
    Paragraph(Vec<Inline>),
    Code(String),
    List {
        ordered: bool,
        items: Vec<Vec<Inline>>,
    },
    Quote(Vec<Block>),
    Table {
        head: Vec<Vec<Inline>>,
        rows: Vec<Vec<Vec<Inline>>>,
    },
    Rule,
}

/// Deeper nesting of emphasis or quotes is shown as plain text.
const MAX_DEPTH: usize = 6;

/// `href` if it is a safe absolute http(s) URL.
pub fn safe_href(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    let clean = !url.is_empty()
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>');
    (scheme_ok && clean && url.len() > "https://".len()).then(|| url.to_string())
}

// ---- blocks -------------------------------------------------------------------

pub fn parse(text: &str) -> Vec<Block> {
    parse_blocks(text, 0)
}

fn parse_blocks(text: &str, depth: usize) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, blocks: &mut Vec<Block>| {
        if !paragraph.is_empty() {
            blocks.push(Block::Paragraph(inlines(&paragraph.join(" "))));
            paragraph.clear();
        }
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() {
            flush(&mut paragraph, &mut blocks);
            i += 1;
            continue;
        }
        if indent < 4 {
            if let Some(fence) = fence_of(trimmed) {
                flush(&mut paragraph, &mut blocks);
                let mut code = Vec::new();
                i += 1;
                while i < lines.len() && !lines[i].trim_start().starts_with(fence.as_str()) {
                    code.push(lines[i]);
                    i += 1;
                }
                blocks.push(Block::Code(code.join("\n")));
                i += 1;
                continue;
            }
            if let Some((level, title)) = heading(trimmed) {
                flush(&mut paragraph, &mut blocks);
                blocks.push(Block::Heading(level, inlines(title)));
                i += 1;
                continue;
            }
            if is_rule(trimmed) {
                flush(&mut paragraph, &mut blocks);
                blocks.push(Block::Rule);
                i += 1;
                continue;
            }
            if trimmed.contains('|') && i + 1 < lines.len() && is_table_separator(lines[i + 1]) {
                flush(&mut paragraph, &mut blocks);
                let head = cells(trimmed);
                let mut rows = Vec::new();
                i += 2;
                while i < lines.len() && lines[i].contains('|') && !lines[i].trim().is_empty() {
                    rows.push(cells(lines[i].trim()));
                    i += 1;
                }
                blocks.push(Block::Table { head, rows });
                continue;
            }
            if let Some((ordered, _)) = list_marker(trimmed) {
                flush(&mut paragraph, &mut blocks);
                let (items, next) = list(&lines, i, ordered);
                blocks.push(Block::List { ordered, items });
                i = next;
                continue;
            }
            if trimmed.starts_with('>') {
                flush(&mut paragraph, &mut blocks);
                let mut quoted = Vec::new();
                while i < lines.len() && lines[i].trim_start().starts_with('>') {
                    let rest = &lines[i].trim_start()[1..];
                    quoted.push(rest.strip_prefix(' ').unwrap_or(rest));
                    i += 1;
                }
                let text = quoted.join("\n");
                if depth < MAX_DEPTH {
                    blocks.push(Block::Quote(parse_blocks(&text, depth + 1)));
                } else {
                    blocks.push(Block::Paragraph(vec![Inline::Text(text)]));
                }
                continue;
            }
        } else if paragraph.is_empty() {
            // Indented code.
            let mut code = Vec::new();
            while i < lines.len() {
                let l = lines[i];
                if l.trim().is_empty() {
                    code.push("");
                } else if l.len() - l.trim_start().len() >= 4 {
                    code.push(&l[4.min(l.len())..]);
                } else {
                    break;
                }
                i += 1;
            }
            while code.last() == Some(&"") {
                code.pop();
            }
            blocks.push(Block::Code(code.join("\n")));
            continue;
        }
        paragraph.push(trimmed.trim_end());
        i += 1;
    }
    flush(&mut paragraph, &mut blocks);
    blocks
}

fn fence_of(line: &str) -> Option<String> {
    for mark in ['`', '~'] {
        let run = line.chars().take_while(|c| *c == mark).count();
        if run >= 3 {
            return Some(mark.to_string().repeat(run));
        }
    }
    None
}

fn heading(line: &str) -> Option<(u8, &str)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let title = rest.trim();
    let title = title.trim_end_matches('#').trim_end();
    Some((level as u8, title))
}

fn is_rule(line: &str) -> bool {
    let marks: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    marks.len() >= 3
        && ['-', '*', '_']
            .iter()
            .any(|m| marks.chars().all(|c| c == *m))
}

fn is_table_separator(line: &str) -> bool {
    let line = line.trim();
    line.contains('-')
        && line.contains('|')
        && line
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

fn cells(line: &str) -> Vec<Vec<Inline>> {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = line.strip_suffix('|').unwrap_or(line);
    // A `|` inside backticks belongs to the code, not the table.
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut in_code = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                current.push('|');
                chars.next();
            }
            '`' => {
                in_code = !in_code;
                current.push(c);
            }
            '|' if !in_code => cells.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    cells.push(current);
    cells.iter().map(|c| inlines(c.trim())).collect()
}

/// `(ordered, text after the marker)` when `line` starts a list item.
fn list_marker(line: &str) -> Option<(bool, &str)> {
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some((false, rest));
        }
    }
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    if (1..=9).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some((true, rest));
        }
    }
    None
}

/// The items of the list starting at `start`, and the line after it. Nested
/// items are flattened into the list; indented lines continue an item.
fn list(lines: &[&str], start: usize, ordered: bool) -> (Vec<Vec<Inline>>, usize) {
    let mut items: Vec<String> = Vec::new();
    let mut i = start;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() {
            // A blank line ends the list unless the next line goes on with it.
            let next = lines.get(i + 1).copied().unwrap_or("");
            let next_trimmed = next.trim_start();
            let continues = list_marker(next_trimmed).is_some_and(|(o, _)| o == ordered)
                || (!next_trimmed.is_empty() && next.len() - next_trimmed.len() >= 2);
            if !continues {
                break;
            }
            i += 1;
            continue;
        }
        match list_marker(trimmed) {
            Some((o, rest)) if o == ordered || indent >= 2 => items.push(rest.trim().to_string()),
            Some(_) => break,
            None if indent >= 2 && !items.is_empty() => {
                let last = items.last_mut().expect("an item");
                last.push(' ');
                last.push_str(trimmed.trim_end());
            }
            None if !items.is_empty() && !starts_block(trimmed) => {
                // A lazy continuation line.
                let last = items.last_mut().expect("an item");
                last.push(' ');
                last.push_str(trimmed.trim_end());
            }
            None => break,
        }
        i += 1;
    }
    (items.iter().map(|t| inlines(t)).collect(), i)
}

fn starts_block(line: &str) -> bool {
    fence_of(line).is_some() || heading(line).is_some() || is_rule(line) || line.starts_with('>')
}

// ---- inlines ------------------------------------------------------------------

pub fn inlines(text: &str) -> Vec<Inline> {
    let chars: Vec<char> = text.chars().collect();
    parse_inlines(&chars, 0)
}

fn push_text(out: &mut Vec<Inline>, buffer: &mut String) {
    if !buffer.is_empty() {
        match out.last_mut() {
            Some(Inline::Text(previous)) => previous.push_str(buffer),
            _ => out.push(Inline::Text(buffer.clone())),
        }
        buffer.clear();
    }
}

fn find_run(chars: &[char], from: usize, mark: char, len: usize) -> Option<usize> {
    let mut j = from;
    while j + len <= chars.len() {
        if chars[j..j + len].iter().all(|c| *c == mark) {
            let before = j.checked_sub(1).map(|k| chars[k]);
            let after = chars.get(j + len).copied();
            let exact = before != Some(mark) && after != Some(mark);
            if exact {
                return Some(j);
            }
            // Skip the whole run.
            let mut k = j;
            while k < chars.len() && chars[k] == mark {
                k += 1;
            }
            j = k;
            continue;
        }
        j += 1;
    }
    None
}

/// The closing delimiter of emphasis opened at `open` with `len` marks.
fn closing(chars: &[char], open: usize, mark: char, len: usize) -> Option<usize> {
    let inner_start = open + len;
    if chars.get(inner_start).is_none_or(|c| c.is_whitespace()) {
        return None;
    }
    let mut j = inner_start;
    while let Some(found) = find_run(chars, j, mark, len) {
        let before = chars[found - 1];
        let after = chars.get(found + len).copied();
        let word_inside = mark == '_' && after.is_some_and(|c| c.is_alphanumeric());
        if found > inner_start && !before.is_whitespace() && !word_inside {
            return Some(found);
        }
        j = found + len;
    }
    None
}

/// `(label, url, index after)` for `[label](url)` starting at `open` (`[`).
fn link_at(chars: &[char], open: usize) -> Option<(String, String, usize)> {
    let mut depth = 0;
    let mut close = None;
    for (j, c) in chars.iter().enumerate().skip(open) {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(j);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let mut depth = 0;
    let mut end = None;
    for (j, c) in chars.iter().enumerate().skip(close + 1) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(j);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end?;
    let label: String = chars[open + 1..close].iter().collect();
    let target: String = chars[close + 2..end].iter().collect();
    let url = target
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    Some((label, url, end + 1))
}

fn parse_inlines(chars: &[char], depth: usize) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut buffer = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1).is_some_and(|n| n.is_ascii_punctuation()) => {
                buffer.push(chars[i + 1]);
                i += 2;
            }
            '`' => {
                let run = chars[i..].iter().take_while(|c| **c == '`').count();
                match find_run(chars, i + run, '`', run) {
                    Some(end) => {
                        push_text(&mut out, &mut buffer);
                        let code: String = chars[i + run..end].iter().collect();
                        let code = if code.len() > 1 && code.starts_with(' ') && code.ends_with(' ')
                        {
                            code[1..code.len() - 1].to_string()
                        } else {
                            code
                        };
                        out.push(Inline::Code(code));
                        i = end + run;
                    }
                    None => {
                        buffer.extend(std::iter::repeat_n('`', run));
                        i += run;
                    }
                }
            }
            '*' | '_' if depth < MAX_DEPTH => {
                let run = chars[i..].iter().take_while(|x| **x == c).count();
                let opens_word = c == '*' || i == 0 || !chars[i - 1].is_alphanumeric();
                let len = if run >= 2 { 2 } else { 1 };
                match opens_word.then(|| closing(chars, i, c, len)).flatten() {
                    Some(end) if run <= 2 => {
                        push_text(&mut out, &mut buffer);
                        let inner = parse_inlines(&chars[i + len..end], depth + 1);
                        out.push(if len == 2 {
                            Inline::Strong(inner)
                        } else {
                            Inline::Emphasis(inner)
                        });
                        i = end + len;
                    }
                    _ => {
                        buffer.extend(std::iter::repeat_n(c, run));
                        i += run;
                    }
                }
            }
            '!' if chars.get(i + 1) == Some(&'[') => match link_at(chars, i + 1) {
                Some((alt, url, next)) => {
                    push_text(&mut out, &mut buffer);
                    let alt = if alt.trim().is_empty() {
                        "image".to_string()
                    } else {
                        alt
                    };
                    match safe_href(&url) {
                        Some(href) => out.push(Inline::Link {
                            href,
                            children: vec![Inline::Text(format!("[image: {alt}]"))],
                        }),
                        None => buffer.push_str(&format!("[image: {alt}]")),
                    }
                    i = next;
                }
                None => {
                    buffer.push('!');
                    i += 1;
                }
            },
            '[' => match link_at(chars, i) {
                Some((label, url, next)) => {
                    push_text(&mut out, &mut buffer);
                    let label_chars: Vec<char> = label.chars().collect();
                    let children = parse_inlines(&label_chars, (depth + 1).min(MAX_DEPTH));
                    match safe_href(&url) {
                        Some(href) => out.push(Inline::Link { href, children }),
                        // Not a link we keep: its label stays as text.
                        None => {
                            for child in children {
                                match child {
                                    Inline::Text(t) => buffer.push_str(&t),
                                    other => {
                                        push_text(&mut out, &mut buffer);
                                        out.push(other);
                                    }
                                }
                            }
                        }
                    }
                    i = next;
                }
                None => {
                    buffer.push('[');
                    i += 1;
                }
            },
            '<' => {
                let end = chars[i + 1..].iter().position(|c| *c == '>');
                let href = end.and_then(|e| {
                    let inner: String = chars[i + 1..i + 1 + e].iter().collect();
                    safe_href(&inner)
                });
                match (href, end) {
                    (Some(href), Some(e)) => {
                        push_text(&mut out, &mut buffer);
                        out.push(Inline::Link {
                            children: vec![Inline::Text(href.clone())],
                            href,
                        });
                        i += e + 2;
                    }
                    _ => {
                        buffer.push('<');
                        i += 1;
                    }
                }
            }
            _ => {
                buffer.push(c);
                i += 1;
            }
        }
    }
    push_text(&mut out, &mut buffer);
    out
}

// ---- views --------------------------------------------------------------------

const LINK: &str = "font-medium text-indigo-600 underline decoration-indigo-300 underline-offset-2 hover:decoration-indigo-600 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";
const INLINE_CODE: &str =
    "rounded bg-slate-100 px-1 py-0.5 font-mono text-[0.85em] dark:bg-slate-800";

fn inline_view(inline: Inline) -> AnyView {
    match inline {
        Inline::Text(text) => text.into_any(),
        Inline::Code(code) => view! { <code class=INLINE_CODE>{code}</code> }.into_any(),
        Inline::Strong(children) => {
            view! { <strong class="font-semibold">{inlines_view(children)}</strong> }.into_any()
        }
        Inline::Emphasis(children) => view! { <em>{inlines_view(children)}</em> }.into_any(),
        Inline::Link { href, children } => view! {
            <a href=href class=LINK rel="noopener noreferrer nofollow" target="_blank">{inlines_view(children)}</a>
        }
        .into_any(),
    }
}

fn inlines_view(inlines: Vec<Inline>) -> Vec<AnyView> {
    inlines.into_iter().map(inline_view).collect()
}

fn block_view(block: Block) -> AnyView {
    match block {
        // The page's title is the h1; the README's headings sit below it.
        Block::Heading(level, title) => {
            let title = inlines_view(title);
            match level {
                1 => view! { <h2 class="mt-6 mb-3 border-b border-slate-200 pb-1 text-xl font-semibold first:mt-0 dark:border-slate-800">{title}</h2> }.into_any(),
                2 => view! { <h3 class="mt-6 mb-2 text-lg font-semibold first:mt-0">{title}</h3> }.into_any(),
                3 => view! { <h4 class="mt-5 mb-2 text-base font-semibold first:mt-0">{title}</h4> }.into_any(),
                4 => view! { <h5 class="mt-4 mb-1 text-sm font-semibold first:mt-0">{title}</h5> }.into_any(),
                _ => view! { <h6 class="mt-4 mb-1 text-sm font-medium text-slate-600 first:mt-0 dark:text-slate-300">{title}</h6> }.into_any(),
            }
        }
        Block::Paragraph(content) => {
            view! { <p class="my-3 leading-relaxed first:mt-0">{inlines_view(content)}</p> }.into_any()
        }
        Block::Code(code) => view! {
            <pre class="my-3 overflow-x-auto rounded-md bg-slate-900 p-3 text-xs leading-relaxed text-slate-100 dark:bg-black/40"><code>{code}</code></pre>
        }
        .into_any(),
        Block::List { ordered, items } => {
            let items = items
                .into_iter()
                .map(|item| view! { <li>{inlines_view(item)}</li> })
                .collect_view();
            if ordered {
                view! { <ol class="my-3 list-decimal space-y-1 pl-6">{items}</ol> }.into_any()
            } else {
                view! { <ul class="my-3 list-disc space-y-1 pl-6">{items}</ul> }.into_any()
            }
        }
        Block::Quote(blocks) => view! {
            <blockquote class="my-3 border-l-4 border-slate-300 pl-4 text-slate-600 dark:border-slate-700 dark:text-slate-300">{blocks_view(blocks)}</blockquote>
        }
        .into_any(),
        Block::Table { head, rows } => view! {
            <div class="my-3 overflow-x-auto">
                <table class="min-w-full text-left text-sm">
                    <thead class="border-b border-slate-200 text-xs uppercase text-slate-500 dark:border-slate-800">
                        <tr>{head.into_iter().map(|cell| view! { <th scope="col" class="py-2 pr-4">{inlines_view(cell)}</th> }).collect_view()}</tr>
                    </thead>
                    <tbody class="divide-y divide-slate-200 dark:divide-slate-800">
                        {rows.into_iter().map(|row| view! {
                            <tr>{row.into_iter().map(|cell| view! { <td class="py-2 pr-4 align-top">{inlines_view(cell)}</td> }).collect_view()}</tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any(),
        Block::Rule => view! { <hr class="my-4 border-slate-200 dark:border-slate-800"/> }.into_any(),
    }
}

fn blocks_view(blocks: Vec<Block>) -> Vec<AnyView> {
    blocks.into_iter().map(block_view).collect()
}

/// The README `text` as safe views.
#[component]
pub fn Markdown(text: String) -> impl IntoView {
    view! { <div class="text-sm text-slate-800 dark:text-slate-200" data-testid="readme">{blocks_view(parse(&text))}</div> }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Inline {
        Inline::Text(t.into())
    }

    #[test]
    fn headings_paragraphs_lists_and_code() {
        let blocks = parse(
            "# Title #\n\nSome *words*\nand **more**.\n\n- one\n- two `x|y`\n  continued\n\n1. first\n2. second\n\n```toml\nkeep = 20\n<b>\n```\n\n---\n> quoted\n",
        );
        assert_eq!(
            blocks,
            vec![
                Block::Heading(1, vec![text("Title")]),
                Block::Paragraph(vec![
                    text("Some "),
                    Inline::Emphasis(vec![text("words")]),
                    text(" and "),
                    Inline::Strong(vec![text("more")]),
                    text("."),
                ]),
                Block::List {
                    ordered: false,
                    items: vec![
                        vec![text("one")],
                        vec![text("two "), Inline::Code("x|y".into()), text(" continued")],
                    ],
                },
                Block::List {
                    ordered: true,
                    items: vec![vec![text("first")], vec![text("second")]],
                },
                Block::Code("keep = 20\n<b>".into()),
                Block::Rule,
                Block::Quote(vec![Block::Paragraph(vec![text("quoted")])]),
            ]
        );
    }

    #[test]
    fn tables_keep_pipes_inside_code() {
        let blocks = parse("| capability | why |\n|---|---|\n| `a|b` | *x* |\n");
        assert_eq!(
            blocks,
            vec![Block::Table {
                head: vec![vec![text("capability")], vec![text("why")]],
                rows: vec![vec![
                    vec![Inline::Code("a|b".into())],
                    vec![Inline::Emphasis(vec![text("x")])]
                ]],
            }]
        );
    }

    #[test]
    fn only_http_links_keep_their_target() {
        assert_eq!(
            inlines(
                "[site](https://example.com/a) [bad](javascript:alert(1)) [rel](docs/x.md) <http://example.org>"
            ),
            vec![
                Inline::Link {
                    href: "https://example.com/a".into(),
                    children: vec![text("site")]
                },
                text(" bad rel "),
                Inline::Link {
                    href: "http://example.org".into(),
                    children: vec![text("http://example.org")]
                },
            ]
        );
        assert_eq!(safe_href("JAVASCRIPT:alert(1)"), None);
        assert_eq!(safe_href("https://"), None);
        assert_eq!(safe_href("https://a.example/\"onmouseover"), None);
        assert_eq!(
            inlines("![logo](https://example.com/l.png)"),
            vec![Inline::Link {
                href: "https://example.com/l.png".into(),
                children: vec![text("[image: logo]")]
            }]
        );
    }

    #[test]
    fn html_is_just_text_and_snake_case_is_not_emphasis() {
        assert_eq!(
            inlines("<script>alert(1)</script> max_attempts and backoff_s"),
            vec![text("<script>alert(1)</script> max_attempts and backoff_s")]
        );
        assert_eq!(
            inlines("_emphasis_ and \\*not\\*"),
            vec![Inline::Emphasis(vec![text("emphasis")]), text(" and *not*")]
        );
        assert_eq!(inlines("a * b * c"), vec![text("a * b * c")]);
    }

    #[test]
    fn deep_nesting_and_unclosed_marks_stay_bounded() {
        let deep = format!("{}x{}", "*".repeat(200), "*".repeat(200));
        assert!(!inlines(&deep).is_empty());
        let quotes = format!("{}deep", "> ".repeat(50));
        assert!(!parse(&quotes).is_empty());
        assert_eq!(inlines("`open"), vec![text("`open")]);
        assert_eq!(inlines("[label](nowhere"), vec![text("[label](nowhere")]);
    }
}
