//! Splits a file's text into its top-level declarations, so each is parsed
//! on its own: pest's attempt tracking stays the size of one declaration,
//! and a parse cache can keep each declaration's tree by its text.
//!
//! A declaration ends at a `;` outside braces (`package`, `import`) or at
//! the `}` that closes its outermost brace; braces inside strings and `//`
//! comments do not count, as the grammar reads them. The blanks, comments
//! and doc comments before a declaration belong to it, so every piece
//! starts where the previous one ended and they cover the whole text.
//! A piece that does not parse is no harm: the parse of that piece reports
//! the error the whole file's parse would (see [`super::parse`]).

use super::scan::code_bytes;

/// The byte ranges of the pieces, in order, covering all of `text`.
pub(super) fn declarations(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    for (i, b) in code_bytes(text) {
        match b {
            b'{' => depth += 1,
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    pieces.push(start..i + 1);
                    start = i + 1;
                }
            }
            b';' if depth == 0 => {
                pieces.push(start..i + 1);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < text.len() || pieces.is_empty() {
        pieces.push(start..text.len());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::declarations;

    fn pieces(text: &str) -> Vec<&str> {
        declarations(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn each_declaration_with_what_precedes_it() {
        assert_eq!(
            pieces("package a;\n/// A point.\nstruct P { x: i32 }\n// end\n"),
            [
                "package a;",
                "\n/// A point.\nstruct P { x: i32 }",
                "\n// end\n"
            ]
        );
        assert_eq!(
            pieces("union U { a { x: i32 }, b }message M {}"),
            ["union U { a { x: i32 }, b }", "message M {}"]
        );
        assert_eq!(pieces(""), [""]);
    }

    #[test]
    fn braces_and_semicolons_in_strings_and_comments_do_not_count() {
        assert_eq!(
            pieces("struct S { p: string @pattern(\"}\\\";\") } // }\nstruct T { x: i32 /* } */ }"),
            [
                "struct S { p: string @pattern(\"}\\\";\") }",
                " // }\nstruct T { x: i32 /* }",
                " */ }"
            ]
        );
        // An unterminated string stops at the end of its line.
        assert_eq!(
            pieces("struct S { p: string = \"}\n}\nstruct T {}"),
            ["struct S { p: string = \"}\n}", "\nstruct T {}"]
        );
    }

    #[test]
    fn an_unclosed_brace_runs_to_the_end() {
        assert_eq!(
            pieces("package a;\nstruct S { x: i32\nstruct T {}\n"),
            ["package a;", "\nstruct S { x: i32\nstruct T {}\n"]
        );
        // A stray `}` ends nothing.
        assert_eq!(pieces("} struct S {}"), ["} struct S {}"]);
    }
}
