//! The one key encoding: big-endian integers so sled's byte order is numeric order.

use crate::domain::{EpisodeId, RunId};

pub(crate) fn run_key(run: RunId) -> [u8; 8] {
    run.0.to_be_bytes()
}

pub(crate) fn item_key(run: RunId, idx: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&run.0.to_be_bytes());
    k[8..].copy_from_slice(&idx.to_be_bytes());
    k
}

pub(crate) fn episode_key(id: EpisodeId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.run.0.to_be_bytes());
    k[8..12].copy_from_slice(&id.item.to_be_bytes());
    k[12..].copy_from_slice(&id.sample.to_be_bytes());
    k
}

pub(crate) fn turn_key(id: EpisodeId, idx: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(&episode_key(id));
    k[16..].copy_from_slice(&idx.to_be_bytes());
    k
}

pub(crate) fn label_key(id: EpisodeId, seq: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(&episode_key(id));
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn be_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// Inverse of `episode_key` (also accepts longer keys that start with one).
pub(crate) fn parse_episode_key(k: &[u8]) -> Option<EpisodeId> {
    Some(EpisodeId {
        run: RunId(be_u64(k.get(..8)?)?),
        item: be_u32(k.get(8..12)?)?,
        sample: be_u32(k.get(12..16)?)?,
    })
}

pub(crate) fn parse_turn_index(k: &[u8]) -> Option<u32> {
    be_u32(k.get(16..20)?)
}

pub(crate) fn parse_label_seq(k: &[u8]) -> Option<u64> {
    be_u64(k.get(16..24)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episode_keys_sort_numerically_and_round_trip() {
        let a = EpisodeId { run: RunId(1), item: 2, sample: 0 };
        let b = EpisodeId { run: RunId(1), item: 10, sample: 0 };
        let c = EpisodeId { run: RunId(2), item: 0, sample: 0 };
        assert!(episode_key(a) < episode_key(b));
        assert!(episode_key(b) < episode_key(c));
        assert_eq!(parse_episode_key(&episode_key(b)), Some(b));
        assert_eq!(parse_episode_key(&turn_key(b, 3)), Some(b));
        assert!(turn_key(a, 2) < turn_key(a, 256));
        assert_eq!(parse_label_seq(&label_key(a, 77)), Some(77));
        assert_eq!(parse_turn_index(&turn_key(a, 258)), Some(258));
    }
}
