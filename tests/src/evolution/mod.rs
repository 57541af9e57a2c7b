//! Package `live` a week apart (tests/fixtures/evolution): v1 is what last
//! week's clients were generated from, v2 what the server runs now. The
//! compiler generates the conversions it can prove safe; the two below are
//! the ones the application has to write, and v2 does not compile without
//! them.

/// Last week's protocol.
pub mod v1 {
    /// Package `live` as generated from tests/fixtures/evolution/v1.
    pub mod live {
        include!(concat!(env!("OUT_DIR"), "/evolution/v1/live.rs"));
    }
}

/// This week's protocol.
pub mod v2 {
    /// Package `live` as generated from tests/fixtures/evolution/v2.
    pub mod live {
        include!(concat!(env!("OUT_DIR"), "/evolution/v2/live.rs"));
    }
}

pub mod app;

use v2::live::{MoveV1, MoveV2, ScoreV1, ScoreV2};

/// Scores that still fit in v1's `u32` reach old clients unchanged; a larger
/// one cannot be shown to them truthfully (saturating would lie), so they
/// are told their protocol is outdated instead.
impl tagwire::Downgrade<ScoreV1> for ScoreV2 {
    fn downgrade(&self) -> Option<ScoreV1> {
        Some(ScoreV1 {
            player: self.player.clone(),
            points: u32::try_from(self.points).ok()?,
        })
    }
}

/// v1 moved between grid cells; v2 places the marker anywhere, so an old
/// client's cell becomes the cell's centre.
impl tagwire::Upgrade<MoveV2> for MoveV1 {
    fn upgrade(self) -> MoveV2 {
        MoveV2 {
            x: f64::from(self.x) + 0.5,
            y: f64::from(self.y) + 0.5,
        }
    }
}
