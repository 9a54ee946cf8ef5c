//! The HTML alternative of an email: its plain text, escaped, in paragraphs.
//!
//! The one thing to know: every piece of text goes through [`escape`], so a
//! name, subject or body that holds markup is shown as text, never run.
//! Only links this program made (the one-time link) become anchors.
//!
//! ```
//! use bailiwick::notify::templates::html::escape;
//! assert_eq!(escape("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
//! ```

/// Text made safe for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole HTML document for `text`: blank lines separate paragraphs, line
/// breaks stay. A line that is exactly one of `links` becomes an anchor.
pub fn document(subject: &str, text: &str, links: &[String]) -> String {
    let mut out = String::with_capacity(text.len() * 2 + 256);
    out.push_str("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>");
    out.push_str(&escape(subject));
    out.push_str("</title>\n</head>\n<body style=\"font-family: sans-serif; line-height: 1.4\">\n");
    let mut open = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if open {
                out.push_str("</p>\n");
                open = false;
            }
            continue;
        }
        if open {
            out.push_str("<br>\n");
        } else {
            out.push_str("<p>");
            open = true;
        }
        match links.iter().find(|l| l.as_str() == line.trim()) {
            Some(link) => {
                let l = escape(link);
                out.push_str(&format!("<a href=\"{l}\">{l}</a>"));
            }
            None => out.push_str(&escape(line)),
        }
    }
    if open {
        out.push_str("</p>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r13_markup_in_text_is_escaped_and_only_given_links_become_anchors() {
        let link = "https://bw.example/ui/activation/abc".to_owned();
        let doc = document(
            "<script>alert(1)</script>",
            "Hello <script>alert('x')</script> & co,\nsecond line\n\n\n\
             https://evil.example/\"onmouseover=x\n\n  https://bw.example/ui/activation/abc\n",
            std::slice::from_ref(&link),
        );
        assert!(!doc.contains("<script"), "{doc}");
        assert!(!doc.contains("\"onmouseover"), "{doc}");
        assert_eq!(
            doc,
            "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n\
             <title>&lt;script&gt;alert(1)&lt;/script&gt;</title>\n</head>\n\
             <body style=\"font-family: sans-serif; line-height: 1.4\">\n\
             <p>Hello &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co,<br>\n\
             second line</p>\n\
             <p>https://evil.example/&quot;onmouseover=x</p>\n\
             <p><a href=\"https://bw.example/ui/activation/abc\">\
             https://bw.example/ui/activation/abc</a></p>\n\
             </body>\n</html>\n"
        );
    }
}
