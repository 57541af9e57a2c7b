//! Diagnostics: every problem the compiler reports, with where it is and how to fix it.
//!
//! Passes collect diagnostics instead of stopping at the first one; the driver
//! sorts them by position and renders them as text (codespan-reporting) or JSON.

pub use crate::code::DiagnosticCode;
use crate::source::{SourceMap, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term;
use serde::Serialize;
use std::ops::Range;

/// How bad a diagnostic is. More levels (notes) may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary location that explains the primary one ("first declared here").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem: built with [`Diagnostic::error`] or [`Diagnostic::warning`]
/// and the `at`/`with_*` methods, so fields can be added (suggested fixes,
/// say) without breaking code that reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier, listed in docs/DIAGNOSTICS.md, for editors and CI filters.
    pub code: DiagnosticCode,
    pub message: String,
    /// Where the problem is; `None` for problems that belong to no file.
    pub span: Option<Span>,
    /// Text under the primary underline.
    pub label: String,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: DiagnosticCode, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: String::new(),
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: DiagnosticCode, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Orders diagnostics by file, then position, then message, so output is
/// stable and reads top to bottom; diagnostics without a span come last.
pub(crate) fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.span.map(|s| (s.file, s.start, s.end));
        match (key(a), key(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.message.cmp(&b.message))
    });
}

pub(crate) fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// Renders diagnostics the way rustc does: `error[code]: message`, then
/// `--> file:line:col`, the source line and an underline. No colour, so the
/// output is the same in a terminal, in cargo's build-script output and in snapshots.
pub fn render_text(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = term::termcolor::NoColor::new(Vec::new());
    let config = term::Config::default();
    let files = CodespanFiles(sources);
    for diagnostic in diagnostics {
        let rendered = to_codespan(diagnostic);
        if term::emit_to_write_style(&mut out, &config, &files, &rendered).is_err() {
            // Rendering only fails on a span outside its file: fall back to the bare message.
            out.get_mut().extend_from_slice(
                format!(
                    "{}[{}]: {}\n",
                    severity_word(diagnostic.severity),
                    diagnostic.code,
                    diagnostic.message
                )
                .as_bytes(),
            );
        }
    }
    String::from_utf8_lossy(&out.into_inner()).into_owned()
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<usize> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = Vec::new();
    if let Some(span) = d.span {
        labels.push(cs::Label::primary(span.file.0, span.range()).with_message(&d.label));
    }
    for label in &d.secondary {
        labels.push(
            cs::Label::secondary(label.span.file.0, label.span.range())
                .with_message(&label.message),
        );
    }
    let mut notes = d.notes.clone();
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code.as_str())
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// The JSON form of one diagnostic, for editors and CI (`--format json`).
#[derive(Debug, Serialize)]
pub(crate) struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub label: &'a str,
    pub related: Vec<JsonLabel<'a>>,
    pub notes: &'a [String],
    pub help: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct JsonLabel<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub message: &'a str,
}

pub(crate) fn to_json<'a>(sources: &'a SourceMap, d: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let located = d.span.map(|span| {
        let file = sources.get(span.file);
        (
            file.name.as_str(),
            file.line_col(span.start),
            file.line_col(span.end),
        )
    });
    JsonDiagnostic {
        severity: d.severity,
        code: d.code.as_str(),
        message: &d.message,
        file: located.map(|l| l.0),
        line: located.map(|l| l.1.0),
        column: located.map(|l| l.1.1),
        end_line: located.map(|l| l.2.0),
        end_column: located.map(|l| l.2.1),
        label: &d.label,
        related: d
            .secondary
            .iter()
            .map(|label| {
                let file = sources.get(label.span.file);
                let (line, column) = file.line_col(label.span.start);
                JsonLabel {
                    file: &file.name,
                    line,
                    column,
                    message: &label.message,
                }
            })
            .collect(),
        notes: &d.notes,
        help: d.help.as_deref(),
    }
}

/// One JSON document: `{"diagnostics": [...]}`.
pub fn render_json(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let list: Vec<_> = diagnostics.iter().map(|d| to_json(sources, d)).collect();
    serde_json::json!({ "diagnostics": list }).to_string()
}

/// Adapts [`SourceMap`] to codespan-reporting.
struct CodespanFiles<'a>(&'a SourceMap);

impl<'a> Files<'a> for CodespanFiles<'a> {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, FilesError> {
        self.file(id).map(|f| f.name.as_str())
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        self.file(id).map(|f| f.text.as_str())
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        let file = self.file(id)?;
        Ok(file.line_col(byte_index).0 - 1)
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, FilesError> {
        let file = self.file(id)?;
        file.line_range(line_index).ok_or(FilesError::LineTooLarge {
            given: line_index,
            max: file.line_count() - 1,
        })
    }
}

impl<'a> CodespanFiles<'a> {
    fn file(&self, id: usize) -> Result<&'a crate::source::SourceFile, FilesError> {
        self.0.try_get(id).ok_or(FilesError::FileMissing)
    }
}
