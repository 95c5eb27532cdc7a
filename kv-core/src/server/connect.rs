//! One call for a program that runs against a given NATS or, without one, a development server
//! of its own: [`connect_or_start`], as the examples use it.

use super::{NatsServer, ServerError};
use crate::permissions::{Guarded, connect};

/// Connects to `url` when one is given; otherwise starts a local [`NatsServer`] (JetStream on,
/// a free loopback port, a temporary store) and connects to it. Either way the connection is
/// [`Guarded`] (see [`connect`](crate::connect)), so a denied operation ends at once.
///
/// The server, when one was started, is returned beside the connection: keep it for as long as
/// the connection is used, since dropping it stops the server. It prints nothing; a program that
/// wants to say what it did looks at the returned server.
///
/// ```no_run
/// # async fn demo() -> Result<(), natskv::server::ServerError> {
/// let (nats, server) = natskv::server::connect_or_start(std::env::var("NATS_URL").ok()).await?;
/// if let Some(server) = &server {
///     println!("started nats-server {} on {}", server.version(), server.url());
/// }
/// let names = natskv::Bucket::list_names(&nats).await;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ServerError::Connect`] when the server (given or started) refuses the connection or cannot
/// be reached; when none was given, whatever [`NatsServer::start`] reports.
///
/// # Cancel safety
/// Cancel safe: a server started before the future was dropped is dropped with it, and stops.
pub async fn connect_or_start(
    url: Option<String>,
) -> Result<(Guarded, Option<NatsServer>), ServerError> {
    let (url, server) = if let Some(url) = url {
        (url, None)
    } else {
        let server = NatsServer::start().await?;
        (server.url(), Some(server))
    };
    match connect(url.as_str()).await {
        Ok(nats) => Ok((nats, server)),
        Err(source) => Err(ServerError::Connect { url, source }),
    }
}
