//! An application binary as a user writes one: the generated protocols live
//! in private modules and every warning is an error, so generated code that
//! warns where an application puts it (an unused constant, a lint its names
//! trip) fails the build. It serves `chat` until stopped.
#![deny(warnings)]

mod chat {
    tagwire::include_protocol!("chat");
}

mod geometry {
    tagwire::include_protocol!("geometry");
}

// The others, for the shapes and names they generate; only `chat` is served.
mod article {
    tagwire::include_protocol!("article");
}

mod everything {
    tagwire::include_protocol!("everything");
}

mod relay {
    tagwire::include_protocol!("relay");
}

mod signup {
    tagwire::include_protocol!("signup");
}

mod ui {
    tagwire::include_protocol!("ui");
}

use tagwire::server::{Connection, Handler, Server, ServerConfig};

struct Chat;

impl Handler<chat::Package> for Chat {
    async fn on_message(&self, conn: &Connection<chat::Package>, message: chat::ClientMessage) {
        if let chat::ClientMessage::SayV1(say) = message {
            conn.join(&say.room);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Server::new(Chat, ServerConfig::default())
        .serve(listener)
        .await
}
