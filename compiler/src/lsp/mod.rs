//! `tagwire lsp`: a language server for `.schema` files over stdio
//! (docs/LSP.md).
//!
//! One thread runs the loop: lsp-server's reader and writer threads frame
//! the messages, and every request is answered from the last analysis, made
//! again when documents changed since. Changes that arrive together are
//! analysed once. A handler that panics is answered with an internal error
//! and the server goes on serving.

mod complete;
mod diagnostics;
mod fix;
mod format;
mod hints;
mod hover;
mod index;
mod navigate;
mod rename;
mod requests;
mod tokens;
mod world;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::{
    DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DidSaveTextDocumentParams, InitializeParams, PublishDiagnosticsParams,
};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use world::{Document, World, uri_path};

/// An error answer to a request.
#[derive(Debug)]
pub(crate) struct Failure {
    code: ErrorCode,
    message: String,
}

impl Failure {
    pub fn params(message: impl Into<String>) -> Self {
        Failure {
            code: ErrorCode::InvalidParams,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: ErrorCode::RequestFailed,
            message: message.into(),
        }
    }
}

/// Serves one client on stdin and stdout until it says `exit` or closes the
/// stream. Returns whether the client shut the server down first (the exit
/// status the protocol asks for).
pub fn run() -> std::io::Result<bool> {
    let (connection, io_threads) = Connection::stdio();
    let clean = serve(&connection);
    drop(connection);
    io_threads.join()?;
    Ok(clean)
}

/// What answers a request (after `initialize`, before `shutdown`).
type Handler = fn(&World, &str, serde_json::Value) -> Result<serde_json::Value, Failure>;

fn serve(connection: &Connection) -> bool {
    serve_with(connection, requests::handle)
}

fn serve_with(connection: &Connection, handler: Handler) -> bool {
    let mut server = Server {
        world: World::default(),
        connection,
        handler,
        initialized: false,
        shut_down: false,
    };
    loop {
        // Analyse once the changes that arrived together are all applied.
        let message = if server.world.dirty.is_empty() && server.world.pending.is_empty() {
            match connection.receiver.recv() {
                Ok(message) => message,
                Err(_) => return false,
            }
        } else {
            match connection.receiver.try_recv() {
                Ok(message) => message,
                Err(e) if e.is_empty() => {
                    server.refresh();
                    continue;
                }
                Err(_) => return false,
            }
        };
        match message {
            Message::Request(request) => server.request(request),
            Message::Notification(note) if note.method == "exit" => return server.shut_down,
            Message::Notification(note) => server.notification(note),
            Message::Response(_) => {}
        }
    }
}

struct Server<'a> {
    world: World,
    connection: &'a Connection,
    handler: Handler,
    initialized: bool,
    shut_down: bool,
}

impl Server<'_> {
    fn send(&self, message: impl Into<Message>) {
        // The writer thread is gone only when stdout closed: nothing to tell.
        let _ = self.connection.sender.send(message.into());
    }

    fn reply(&self, id: RequestId, result: Result<serde_json::Value, Failure>) {
        let response = match result {
            Ok(value) => Response::new_ok(id, value),
            Err(f) => Response::new_err(id, f.code as i32, f.message),
        };
        self.send(response);
    }

    fn request(&mut self, request: Request) {
        let id = request.id.clone();
        if request.method == lsp_types::request::Initialize::METHOD {
            if self.initialized {
                return self.reply(
                    id,
                    Err(Failure {
                        code: ErrorCode::InvalidRequest,
                        message: "the server is already initialized".into(),
                    }),
                );
            }
            let result = self.initialize(request.params);
            if result.is_ok() {
                self.initialized = true;
            }
            return self.reply(id, result);
        }
        if !self.initialized {
            return self.reply(
                id,
                Err(Failure {
                    code: ErrorCode::ServerNotInitialized,
                    message: format!("`{}` before `initialize`", request.method),
                }),
            );
        }
        if self.shut_down {
            return self.reply(
                id,
                Err(Failure {
                    code: ErrorCode::InvalidRequest,
                    message: "the server is shut down; only `exit` is accepted".into(),
                }),
            );
        }
        if request.method == lsp_types::request::Shutdown::METHOD {
            self.shut_down = true;
            return self.reply(id, Ok(serde_json::Value::Null));
        }
        // Answers reflect every change received before the request.
        self.refresh();
        let world = &self.world;
        let handler = self.handler;
        let result = catch_unwind(AssertUnwindSafe(|| {
            handler(world, &request.method, request.params)
        }))
        .unwrap_or_else(|panic| {
            Err(Failure {
                code: ErrorCode::InternalError,
                message: format!(
                    "internal error answering `{}`: {}",
                    request.method,
                    panic_text(&panic)
                ),
            })
        });
        self.reply(id, result);
    }

    fn initialize(&mut self, params: serde_json::Value) -> Result<serde_json::Value, Failure> {
        let params: InitializeParams = serde_json::from_value(params)
            .map_err(|e| Failure::params(format!("invalid initialize params: {e}")))?;
        self.world.confirmations = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.workspace_edit.as_ref())
            .and_then(|e| e.change_annotation_support.as_ref())
            .is_some();
        let mut roots: Vec<PathBuf> = params
            .workspace_folders
            .iter()
            .flatten()
            .filter_map(|f| uri_path(&f.uri))
            .collect();
        #[allow(deprecated)]
        if roots.is_empty()
            && let Some(root) = params.root_uri.as_ref().and_then(uri_path)
        {
            roots.push(root);
        }
        self.world.scan(&roots);
        Ok(serde_json::json!({
            "capabilities": requests::capabilities(),
            "serverInfo": { "name": "tagwire", "version": env!("CARGO_PKG_VERSION") },
        }))
    }

    fn notification(&mut self, note: Notification) {
        if !self.initialized {
            return;
        }
        let world = &mut self.world;
        let method = note.method.clone();
        let handled = catch_unwind(AssertUnwindSafe(|| notify(world, note)));
        match handled {
            Ok(Ok(())) => {}
            Ok(Err(message)) => self.log(&format!("`{method}`: {message}")),
            Err(panic) => self.log(&format!(
                "internal error handling `{method}`: {}",
                panic_text(&panic)
            )),
        }
    }

    fn log(&self, message: &str) {
        self.send(Notification::new(
            lsp_types::notification::LogMessage::METHOD.to_string(),
            lsp_types::LogMessageParams {
                typ: lsp_types::MessageType::WARNING,
                message: message.to_string(),
            },
        ));
    }

    fn refresh(&mut self) {
        if self.world.dirty.is_empty() && self.world.pending.is_empty() {
            return;
        }
        let world = &mut self.world;
        let touched = match catch_unwind(AssertUnwindSafe(|| world.refresh())) {
            Ok(touched) => touched,
            Err(panic) => {
                self.world.dirty.clear();
                self.world.pending.clear();
                return self.log(&format!("internal error analysing: {}", panic_text(&panic)));
            }
        };
        let mut all = diagnostics::collect(&self.world);
        let mut paths = touched;
        paths.extend(self.world.published.iter().cloned());
        let mut published = std::collections::BTreeSet::new();
        for path in paths {
            let list = all.remove(&path).unwrap_or_default();
            let shown = self.world.published.contains(&path);
            if list.is_empty() && !shown && !self.world.open.contains_key(&path) {
                continue;
            }
            let Some(uri) = self.world.uri(&path) else {
                continue;
            };
            if !list.is_empty() {
                published.insert(path.clone());
            }
            let version = self.world.open.get(&path).map(|d| d.version);
            self.send(Notification::new(
                lsp_types::notification::PublishDiagnostics::METHOD.to_string(),
                PublishDiagnosticsParams::new(uri, list, version),
            ));
        }
        self.world.published = published;
        self.world.retired.clear();
    }
}

fn notify(world: &mut World, note: Notification) -> Result<(), String> {
    use lsp_types::notification::{
        DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    };
    let params = note.params;
    match note.method.as_str() {
        DidOpenTextDocument::METHOD => {
            let p: DidOpenTextDocumentParams =
                serde_json::from_value(params).map_err(|e| e.to_string())?;
            let path = uri_path(&p.text_document.uri)
                .ok_or_else(|| format!("not a file URI: {}", p.text_document.uri))?;
            Arc::make_mut(&mut world.files).insert(path.clone(), p.text_document.text);
            world.open.insert(
                path.clone(),
                Document {
                    uri: p.text_document.uri,
                    version: p.text_document.version,
                },
            );
            world.touch(path);
        }
        DidChangeTextDocument::METHOD => {
            let p: DidChangeTextDocumentParams =
                serde_json::from_value(params).map_err(|e| e.to_string())?;
            let path = uri_path(&p.text_document.uri)
                .ok_or_else(|| format!("not a file URI: {}", p.text_document.uri))?;
            let mut text = world
                .files
                .get(&path)
                .ok_or_else(|| format!("`{}` is not open", p.text_document.uri))?
                .to_string();
            for change in p.content_changes {
                text = requests::apply_change(text, change)?;
            }
            Arc::make_mut(&mut world.files).insert(path.clone(), text);
            if let Some(doc) = world.open.get_mut(&path) {
                doc.version = p.text_document.version;
            }
            world.touch(path);
        }
        DidCloseTextDocument::METHOD => {
            let p: DidCloseTextDocumentParams =
                serde_json::from_value(params).map_err(|e| e.to_string())?;
            if let Some(path) = uri_path(&p.text_document.uri) {
                Arc::make_mut(&mut world.files).remove(&path);
                world.open.remove(&path);
                world.touch(path);
            }
        }
        DidSaveTextDocument::METHOD => {
            let p: DidSaveTextDocumentParams =
                serde_json::from_value(params).map_err(|e| e.to_string())?;
            if let Some(path) = uri_path(&p.text_document.uri) {
                world.touch(path);
            }
        }
        "workspace/didChangeWatchedFiles" => {
            let p: lsp_types::DidChangeWatchedFilesParams =
                serde_json::from_value(params).map_err(|e| e.to_string())?;
            for change in p.changes {
                if let Some(path) = uri_path(&change.uri) {
                    world.touch(path);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(client: &Connection, id: i32, method: &str, params: serde_json::Value) -> Response {
        let sent = client
            .sender
            .send(Request::new(id.into(), method.to_string(), params).into());
        assert!(sent.is_ok());
        loop {
            match client
                .receiver
                .recv_timeout(std::time::Duration::from_secs(10))
            {
                Ok(Message::Response(r)) if r.id == id.into() => return r,
                Ok(_) => continue,
                Err(e) => panic!("no answer to `{method}`: {e}"),
            }
        }
    }

    /// The server's own loop over an in-memory connection, with a handler
    /// that panics on one method: the panic is answered as an internal
    /// error and the next request is served. (The binary has no request
    /// that panics on demand, so this is where the guard is tested.)
    #[test]
    fn a_handler_that_panics_is_an_internal_error_and_the_server_goes_on() {
        let (server, client) = Connection::memory();
        let serving = std::thread::spawn(move || {
            serve_with(&server, |world, method, params| {
                if method == "test/panic" {
                    panic!("a handler bug");
                }
                requests::handle(world, method, params)
            })
        });
        let init = request(&client, 1, "initialize", json!({ "capabilities": {} }));
        assert!(init.response_result.is_ok(), "{init:?}");
        let panicked = request(&client, 2, "test/panic", json!(null));
        let error = panicked.response_result.expect_err("an error answer");
        assert_eq!(error.code, ErrorCode::InternalError as i32);
        assert!(
            error.message.contains("`test/panic`") && error.message.contains("a handler bug"),
            "{}",
            error.message
        );
        let status = request(&client, 3, "tagwire/status", json!(null));
        assert_eq!(status.response_result.expect("served")["projects"], 0);
        let shut = request(&client, 4, "shutdown", json!(null));
        assert!(shut.response_result.is_ok(), "{shut:?}");
        let exit = client
            .sender
            .send(Notification::new("exit".into(), json!(null)).into());
        assert!(exit.is_ok());
        assert!(serving.join().expect("the loop ended"), "a clean exit");
    }
}
