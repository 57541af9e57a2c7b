//! The drain for zero-downtime deploys (SPEC §9.2 step 4): health 503 at
//! once, notices after the grace period in batches across the window, then
//! wait for the last connection or the hard deadline.

use std::sync::Arc;

use tokio::time::{Instant, sleep_until, timeout_at};

use super::core::{Core, DrainPhase, DrainReport};
use super::outbox::Closing;
use crate::control::{Control, DrainNotice};
use crate::frame::to_message;
use crate::{CloseCode, Encoding};

/// Starts the drain unless it has started already. Must be called inside
/// a tokio runtime.
pub(crate) fn start(core: &Arc<Core>) {
    if !core.set_draining() {
        return;
    }
    core.phase.send_replace(DrainPhase::Grace);
    let core = core.clone();
    tokio::spawn(async move { run(core).await });
}

async fn run(core: Arc<Core>) {
    let cfg = core.config.drain.clone();
    let started = Instant::now();
    let at_start = core.connection_count();
    tracing::info!(
        connections = at_start,
        grace_ms = cfg.grace.as_millis() as u64,
        "drain started: health now answers 503, new connections are refused"
    );
    let deadline = started + cfg.deadline;

    // Phase 1: the load balancer takes the node out. Nothing to wait for
    // if every client has already gone.
    let grace_end = started + cfg.grace;
    tokio::select! {
        () = sleep_until(grace_end) => {}
        () = core.all_closed() => {}
    }
    let grace_took = started.elapsed();
    let notices_started = Instant::now();
    core.phase.send_replace(DrainPhase::Closing);

    // Phase 2: notices and closes, in batches spread over the window so the
    // reconnects do not all land on the next node at once.
    let connections = core.snapshot();
    let batches = cfg.batches.max(1) as usize;
    let per_batch = connections.len().div_ceil(batches).max(1);
    let notice = Control::Drain(DrainNotice {
        reason: cfg.reason.clone(),
        window_ms: u32::try_from(cfg.reconnect_window.as_millis()).unwrap_or(u32::MAX),
        backoff_multiplier: cfg.backoff_multiplier,
    });
    let text = to_message(&notice, Encoding::Text);
    let binary = to_message(&notice, Encoding::Binary);
    let mut notified = 0;
    for (i, batch) in connections.chunks(per_batch).enumerate() {
        let at = notices_started + cfg.window.mul_f64(i as f64 / batches as f64);
        sleep_until(at).await;
        for conn in batch {
            let frame = match conn.encoding {
                Encoding::Text => text.clone(),
                Encoding::Binary => binary.clone(),
            };
            if conn.outbox.close(Closing::Close {
                code: CloseCode::DRAIN,
                reason: cfg.reason.clone(),
                notice: Some(Box::new(frame)),
            }) {
                notified += 1;
            }
        }
        tracing::debug!(batch = i, size = batch.len(), "drain notices sent");
    }
    tracing::info!(
        notified,
        grace_ms = grace_took.as_millis() as u64,
        "drain notices sent to every connection"
    );

    // Phase 3: wait for the clients to leave, then cut whoever is left.
    let mut cut = 0;
    if timeout_at(deadline, core.all_closed()).await.is_err() {
        let left = core.snapshot();
        cut = left.len();
        tracing::warn!(
            connections = cut,
            "drain deadline reached: closing the rest with 1001"
        );
        for conn in &left {
            conn.outbox.close(Closing::Close {
                code: CloseCode::GOING_AWAY,
                reason: "drain deadline".into(),
                notice: None,
            });
        }
        let _ = timeout_at(deadline + cfg.close_timeout, core.all_closed()).await;
    }
    let report = DrainReport {
        connections_at_start: at_start,
        notified,
        cut_at_deadline: cut,
        grace: grace_took,
        closing: notices_started.elapsed(),
        total: started.elapsed(),
    };
    tracing::info!(
        connections_at_start = report.connections_at_start,
        notified = report.notified,
        cut_at_deadline = report.cut_at_deadline,
        grace_ms = report.grace.as_millis() as u64,
        closing_ms = report.closing.as_millis() as u64,
        total_ms = report.total.as_millis() as u64,
        "drain done"
    );
    core.phase.send_replace(DrainPhase::Done(report));
}
