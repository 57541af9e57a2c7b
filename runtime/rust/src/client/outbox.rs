//! What the application handles and the connection task share: the send
//! queue, the close request and the "task finished" flag.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};

use super::config::QueueFull;
use super::event::SendError;

#[derive(Debug)]
struct State<M> {
    queue: VecDeque<M>,
    /// Presence states waiting to go out, one per room (the last set).
    presence: Vec<(String, M)>,
    /// The application asked to close (or dropped every handle).
    close_requested: bool,
    /// The task ended: sends are refused.
    closed: bool,
}

/// The send queue and the flags between [`Client`](super::Client) handles
/// and the connection task.
#[derive(Debug)]
pub(crate) struct Outbox<M> {
    state: Mutex<State<M>>,
    /// Wakes the task: a message was queued or a close requested.
    pub(crate) wake: Notify,
    limit: usize,
    when_full: QueueFull,
    /// `true` once a close was requested (the same flag as in `State`,
    /// awaitable without taking `wake`'s permits).
    closing: watch::Sender<bool>,
    /// `true` once the task has ended.
    done: watch::Sender<bool>,
}

impl<M> Outbox<M> {
    pub(crate) fn new(limit: usize, when_full: QueueFull) -> Self {
        Outbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                presence: Vec::new(),
                close_requested: false,
                closed: false,
            }),
            wake: Notify::new(),
            limit,
            when_full,
            closing: watch::Sender::new(false),
            done: watch::Sender::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // Nothing panics while holding the lock, but a poisoned queue is
        // still a valid queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `message` for the task.
    pub(crate) fn push(&self, message: M) -> Result<(), SendError> {
        {
            let mut state = self.lock();
            if state.closed || state.close_requested {
                return Err(SendError::Closed);
            }
            if state.queue.len() >= self.limit {
                match self.when_full {
                    QueueFull::Reject => return Err(SendError::Full { limit: self.limit }),
                    QueueFull::DropOldest => {
                        if state.queue.pop_front().is_none() {
                            // limit 0: nothing can ever be queued.
                            return Err(SendError::Full { limit: self.limit });
                        }
                        tracing::debug!(
                            limit = self.limit,
                            "send queue full: dropped the oldest message"
                        );
                    }
                }
            }
            state.queue.push_back(message);
        }
        self.wake.notify_one();
        Ok(())
    }

    /// The oldest queued message.
    pub(crate) fn pop(&self) -> Option<M> {
        self.lock().queue.pop_front()
    }

    /// Keeps `state` as the room's presence state to send, replacing one
    /// that waits; at most `max_rooms` rooms wait at once.
    pub(crate) fn set_presence(
        &self,
        room: &str,
        state: M,
        max_rooms: usize,
    ) -> Result<(), SendError> {
        {
            let mut guard = self.lock();
            if guard.closed || guard.close_requested {
                return Err(SendError::Closed);
            }
            if let Some(slot) = guard.presence.iter_mut().find(|(r, _)| r == room) {
                slot.1 = state;
            } else if guard.presence.len() >= max_rooms {
                return Err(SendError::Full { limit: max_rooms });
            } else {
                guard.presence.push((room.to_owned(), state));
            }
        }
        self.wake.notify_one();
        Ok(())
    }

    /// The presence states waiting for rooms `ready` accepts, taken.
    pub(crate) fn take_presence(&self, mut ready: impl FnMut(&str) -> bool) -> Vec<(String, M)> {
        let mut state = self.lock();
        let (take, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut state.presence)
            .into_iter()
            .partition(|(room, _)| ready(room));
        state.presence = keep;
        take
    }

    /// The rooms whose presence states wait.
    pub(crate) fn presence_waiting(&self) -> Vec<String> {
        self.lock()
            .presence
            .iter()
            .map(|(room, _)| room.clone())
            .collect()
    }

    /// Asks the task to close the connection with 1000 and stop.
    pub(crate) fn request_close(&self) {
        self.lock().close_requested = true;
        self.closing.send_replace(true);
        self.wake.notify_one();
    }

    /// Waits until a close is requested.
    pub(crate) async fn close_wanted(&self) {
        let mut closing = self.closing.subscribe();
        // The sender lives in `self`, so this only returns once it is set.
        let _ = closing.wait_for(|closing| *closing).await;
    }

    pub(crate) fn close_requested(&self) -> bool {
        self.lock().close_requested
    }

    /// The task has ended: refuse sends, free the queue, wake `close()`.
    pub(crate) fn finish(&self) {
        {
            let mut state = self.lock();
            state.closed = true;
            state.queue.clear();
            state.presence.clear();
        }
        self.done.send_replace(true);
    }

    /// Waits until the task has ended.
    pub(crate) async fn finished(&self) {
        let mut done = self.done.subscribe();
        // The sender lives in `self`, so this only returns once done is set.
        let _ = done.wait_for(|done| *done).await;
    }

    pub(crate) fn is_finished(&self) -> bool {
        *self.done.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_refuses_past_the_limit_and_keeps_order() {
        let outbox = Outbox::new(2, QueueFull::Reject);
        assert_eq!(outbox.push(1), Ok(()));
        assert_eq!(outbox.push(2), Ok(()));
        assert_eq!(outbox.push(3), Err(SendError::Full { limit: 2 }));
        assert_eq!(outbox.pop(), Some(1));
        assert_eq!(outbox.push(4), Ok(()));
        assert_eq!(
            (outbox.pop(), outbox.pop(), outbox.pop()),
            (Some(2), Some(4), None)
        );
    }

    #[test]
    fn drop_oldest_keeps_the_latest_messages() {
        let outbox = Outbox::new(2, QueueFull::DropOldest);
        for n in 1..=5 {
            assert_eq!(outbox.push(n), Ok(()));
        }
        assert_eq!(
            (outbox.pop(), outbox.pop(), outbox.pop()),
            (Some(4), Some(5), None)
        );
        let none = Outbox::new(0, QueueFull::DropOldest);
        assert_eq!(none.push(1), Err(SendError::Full { limit: 0 }));
    }

    #[test]
    fn sends_after_close_are_refused() {
        let outbox = Outbox::new(4, QueueFull::Reject);
        outbox.request_close();
        assert_eq!(outbox.push(1), Err(SendError::Closed));
        assert!(!outbox.is_finished());
        outbox.finish();
        assert!(outbox.is_finished());
        assert_eq!(outbox.push(1), Err(SendError::Closed));
    }
}
