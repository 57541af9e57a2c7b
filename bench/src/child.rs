//! A child process driven over stdin/stdout, one line each way. The
//! benchmarks start their client load (and their servers) as children of
//! the measuring process so that each side's CPU and memory are its own.

use std::error::Error;
use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// A running child; killed if dropped before [`LineChild::finish`].
#[derive(Debug)]
pub struct LineChild {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    name: String,
}

impl LineChild {
    /// Starts this executable with `args`; its stderr goes to ours.
    pub fn spawn_self(name: &str, args: &[String]) -> Result<Self, Box<dyn Error>> {
        let mut command = Command::new(std::env::current_exe()?);
        command.args(args);
        Self::spawn(name, command)
    }

    pub fn spawn(name: &str, mut command: Command) -> Result<Self, Box<dyn Error>> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("{name}: no stdout"))?;
        Ok(LineChild {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            name: name.to_owned(),
        })
    }

    /// The next line the child printed; an `error …` line is an error.
    pub fn next_line(&mut self) -> Result<String, Box<dyn Error>> {
        let line = self
            .lines
            .next()
            .ok_or_else(|| format!("{} ended early", self.name))??;
        if let Some(error) = line.strip_prefix("error ") {
            return Err(format!("{}: {error}", self.name).into());
        }
        Ok(line)
    }

    /// Skips lines until one starting with `prefix`; returns the rest of it.
    pub fn expect(&mut self, prefix: &str) -> Result<String, Box<dyn Error>> {
        loop {
            let line = self.next_line()?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim_start().to_owned());
            }
        }
    }

    /// Writes one line to the child.
    pub fn send(&mut self, line: &str) -> Result<(), Box<dyn Error>> {
        let name = &self.name;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{name}: stdin closed"))?;
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        Ok(())
    }

    /// Sends `line` and returns the reply line that starts with `reply`.
    pub fn ask(&mut self, line: &str, reply: &str) -> Result<String, Box<dyn Error>> {
        self.send(line)?;
        self.expect(reply)
    }

    /// Closes the child's stdin (which ends it) and waits for it.
    pub fn finish(mut self) -> Result<(), Box<dyn Error>> {
        drop(self.stdin.take());
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("{} exited with {status}", self.name).into());
        }
        Ok(())
    }
}

impl Drop for LineChild {
    fn drop(&mut self) {
        // An early error return: do not leave the child behind.
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads commands from stdin on a thread of its own: calls `on_line` for
/// each line, and exits the process when stdin closes (the parent ended
/// or finished with us).
pub fn serve_stdin(mut on_line: impl FnMut(&str) + Send + 'static) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            on_line(line.trim());
        }
        std::process::exit(0);
    });
}

/// Prints one line to stdout and flushes it (the parent waits for it).
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
