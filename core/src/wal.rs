//! Which writes to a WAL file put byte 19 of a page image, and of which page.
//!
//! A WAL file is a 32-byte header followed by frames: a 24-byte frame header (the page
//! number first, big-endian) and the page image. SQLite writes them in three shapes
//! (`walWriteOneFrame`, `walWriteToLog` and `sqlite3WalFrames` in wal.c):
//! - a frame appended: its header, then its page, as two writes at consecutive offsets;
//! - either of those split in two at a sync point, when the WAL is padded to a sector
//!   boundary (a VFS without `SQLITE_IOCAP_POWERSAFE_OVERWRITE`); one split per commit;
//! - a page written again in the same transaction: the page image alone, overwritten in
//!   place at its frame (the frame header is the one written earlier in the transaction).
//!
//! [`FrameTracker`] knows the WAL's page size (from the WAL header it sees written, or read
//! back once), so it knows where every frame starts and where each frame's byte 19 is. A
//! write that covers a frame's byte 19 is attributed to that frame's page number: from the
//! write itself when it also covers the frame header, from the last frame header written
//! through this file when that is the same frame, or else read back from the frame header
//! on disk ([`Probe::ReadPageNumber`]; only overwrites need that, and only when byte 19 is
//! not 2). The remembered header is the latest one this file wrote at that offset: another
//! connection's frame there would be a new WAL generation, which this file starts writing
//! with a new frame header before any page of it.

use crate::header::{READ_VERSION_OFFSET, WAL_READ_VERSION};

/// Bytes before the first frame.
pub const WAL_HEADER_LEN: i64 = 32;
/// Bytes of a frame header.
pub const FRAME_HEADER_LEN: i64 = 24;

/// Offset of byte 19 of a frame's page image from the frame's start.
const BYTE_19_IN_FRAME: i64 = FRAME_HEADER_LEN + READ_VERSION_OFFSET as i64;

/// What a write to the WAL puts at byte 19 of a page image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The write puts no page's byte 19.
    Nothing,
    /// The page size is not known yet: read the WAL header ([`FrameTracker::learn`]) and
    /// observe the write again.
    NeedPageSize,
    /// It puts `byte` at byte 19 of page `page`.
    Page { page: u32, byte: u8 },
    /// It puts `byte` at byte 19 of the page of the frame at `frame_offset`, whose page number
    /// is the first 4 bytes (big-endian) of that frame's header on disk.
    ReadPageNumber { frame_offset: i64, byte: u8 },
}

impl Probe {
    /// The byte the write puts at byte 19 of page 1, when it is not 2 (the only page-1 frames
    /// layer 2 has to decide). `page_number` reads a frame's page number from its header on
    /// disk; it is called only for a byte that is not 2 at a frame this file did not just
    /// announce.
    pub fn page1_byte<E>(self, page_number: impl FnOnce(i64) -> Result<u32, E>) -> Result<Option<u8>, E> {
        Ok(match self {
            Probe::Nothing | Probe::NeedPageSize => None,
            Probe::Page { page, byte } => (page == 1 && byte != WAL_READ_VERSION).then_some(byte),
            Probe::ReadPageNumber { frame_offset, byte } => (byte != WAL_READ_VERSION && page_number(frame_offset)? == 1).then_some(byte),
        })
    }
}

/// The frame geometry of one WAL file and the last frame header written through it.
#[derive(Clone, Copy, Debug)]
pub struct FrameTracker {
    /// Bytes of a frame (header and page), once the page size is known.
    frame_size: Option<i64>,
    /// Offset and page number of the last frame header written through this file.
    last_header: Option<(i64, u32)>,
    /// The same, laid out for [`routine`](Self::routine): where the last header's page starts,
    /// and where the next frame's header would start (-1: no header seen).
    page_offset: i64,
    next_header: i64,
}

impl Default for FrameTracker {
    fn default() -> FrameTracker {
        FrameTracker { frame_size: None, last_header: None, page_offset: -1, next_header: -1 }
    }
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

impl FrameTracker {
    /// Learn the page size from a WAL header (`walIndexRecover` accepts 512..=65536, powers of
    /// two). Returns whether it was valid.
    pub fn learn(&mut self, wal_header: &[u8]) -> bool {
        let size = wal_header.get(8..12).map(be32).unwrap_or(0);
        let valid = (512..=65536).contains(&size) && size.is_power_of_two();
        self.frame_size = valid.then_some(i64::from(size) + FRAME_HEADER_LEN);
        self.set_last_header(None);
        valid
    }

    fn set_last_header(&mut self, header: Option<(i64, u32)>) {
        self.last_header = header;
        (self.page_offset, self.next_header) = match (header, self.frame_size) {
            (Some((at, _)), Some(frame_size)) => (at + FRAME_HEADER_LEN, at + frame_size),
            _ => (-1, -1),
        };
    }

    /// The hot path: is this write one of the two shapes of an append that cannot put a page 1
    /// leaving WAL (the next frame's header, right after the last frame; a page other than
    /// page 1, or a page 1 still saying WAL, right after its header)? Decided in a few
    /// instructions, without a division; `false` means: ask [`observe`](Self::observe).
    #[inline(always)]
    pub fn routine(&mut self, offset: i64, data: &[u8]) -> bool {
        if offset == self.page_offset && data.len() > READ_VERSION_OFFSET {
            let page1 = self.last_header.is_some_and(|(_, page)| page == 1);
            return !page1 || data[READ_VERSION_OFFSET] == WAL_READ_VERSION;
        }
        if offset == self.next_header && data.len() as i64 == FRAME_HEADER_LEN {
            self.set_last_header(Some((offset, be32(data))));
            return true;
        }
        false
    }

    /// Observe a write of `data` at `offset`, before it is made.
    pub fn observe(&mut self, offset: i64, data: &[u8]) -> Probe {
        if let Some((header, page)) = self.last_header
            && offset == self.page_offset
            && data.len() > READ_VERSION_OFFSET
        {
            debug_assert_eq!(offset, header + FRAME_HEADER_LEN);
            return Probe::Page { page, byte: data[READ_VERSION_OFFSET] };
        }
        self.observe_any(offset, data)
    }

    fn observe_any(&mut self, offset: i64, data: &[u8]) -> Probe {
        let end = offset + data.len() as i64;
        if offset < WAL_HEADER_LEN {
            // The WAL header: a new generation of frames starts.
            self.set_last_header(None);
            if offset == 0 && data.len() >= WAL_HEADER_LEN as usize {
                self.learn(data);
            }
            return Probe::Nothing;
        }
        let Some(frame_size) = self.frame_size else { return Probe::NeedPageSize };
        let start_of = |at: i64| at - (at - WAL_HEADER_LEN) % frame_size;
        if data.len() as i64 == FRAME_HEADER_LEN && start_of(offset) == offset {
            self.set_last_header(Some((offset, be32(data))));
            return Probe::Nothing;
        }
        // The first byte 19 at or after `offset`; SQLite never writes more than one page at once.
        let mut frame = start_of(offset);
        if frame + BYTE_19_IN_FRAME < offset {
            frame += frame_size;
        }
        let at = frame + BYTE_19_IN_FRAME;
        if at >= end {
            return Probe::Nothing;
        }
        let byte = data[(at - offset) as usize];
        if frame >= offset {
            return Probe::Page { page: be32(&data[(frame - offset) as usize..]), byte };
        }
        match self.last_header {
            Some((header, page)) if header == frame => Probe::Page { page, byte },
            _ => Probe::ReadPageNumber { frame_offset: frame, byte },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A page image whose byte 19 is `byte`, otherwise filled with `fill`.
    fn page(size: usize, fill: u8, byte: u8) -> Vec<u8> {
        let mut p = vec![fill; size];
        p[19] = byte;
        p
    }

    fn wal_header(size: usize, salt: u8) -> Vec<u8> {
        let mut h = vec![salt; 32];
        h[8..12].copy_from_slice(&(size as u32).to_be_bytes());
        h
    }

    fn frame_offset(index: usize, size: usize) -> i64 {
        WAL_HEADER_LEN + index as i64 * (size as i64 + FRAME_HEADER_LEN)
    }

    /// A WAL file as bytes, written through the tracker the way SQLite writes it, checking
    /// every probe against the truth. Returns the page-1 byte-19 values the tracker saw.
    struct Wal {
        size: usize,
        file: Vec<u8>,
        tracker: FrameTracker,
        seen: Vec<(u32, u8)>,
    }

    impl Wal {
        fn new(size: usize) -> Wal {
            Wal { size, file: Vec::new(), tracker: FrameTracker::default(), seen: Vec::new() }
        }

        fn write(&mut self, offset: i64, data: &[u8]) {
            // The hot path first, as the VFS does; a routine write must not be a page 1 that
            // leaves WAL, which the full probe below checks against the truth.
            let mut fast = self.tracker;
            let routine = fast.routine(offset, data);
            let probe = self.tracker.observe(offset, data);
            if routine {
                self.tracker = fast;
            }
            let resolved = match probe {
                Probe::Nothing => None,
                Probe::NeedPageSize => panic!("the WAL header was written through the tracker"),
                Probe::Page { page, byte } => Some((page, byte)),
                Probe::ReadPageNumber { frame_offset, byte } => {
                    let at = frame_offset as usize;
                    let header = &self.file[at..at + 4];
                    Some((u32::from_be_bytes(header.try_into().unwrap()), byte))
                }
            };
            // The truth: which frames' byte 19 does this write cover?
            let mut truth = None;
            for index in 0.. {
                let frame = frame_offset(index, self.size);
                if frame > offset + data.len() as i64 {
                    break;
                }
                let at = frame + BYTE_19_IN_FRAME;
                if (offset..offset + data.len() as i64).contains(&at) {
                    // The page number is in the header, written before (or in) this write.
                    let mut file = self.file.clone();
                    let end = offset as usize + data.len();
                    if file.len() < end {
                        file.resize(end, 0);
                    }
                    file[offset as usize..end].copy_from_slice(data);
                    let header = &file[frame as usize..frame as usize + 4];
                    truth = Some((u32::from_be_bytes(header.try_into().unwrap()), data[(at - offset) as usize]));
                }
            }
            assert_eq!(resolved, truth, "write of {} bytes at {offset}", data.len());
            if routine {
                assert!(!matches!(truth, Some((1, byte)) if byte != WAL_READ_VERSION), "a routine write left WAL at {offset}");
            }
            if let Some(seen) = resolved {
                self.seen.push(seen);
            }
            let end = offset as usize + data.len();
            if self.file.len() < end {
                self.file.resize(end, 0);
            }
            self.file[offset as usize..end].copy_from_slice(data);
        }

        /// `walWriteToLog`: one write, or two when it crosses `sync_point`.
        fn write_to_log(&mut self, offset: i64, data: &[u8], sync_point: Option<i64>) {
            match sync_point {
                Some(point) if offset < point && offset + data.len() as i64 >= point => {
                    let first = (point - offset) as usize;
                    self.write(offset, &data[..first]);
                    self.write(point, &data[first..]);
                }
                _ => self.write(offset, data),
            }
        }

        fn append(&mut self, index: usize, pgno: u32, image: &[u8], sync_point: Option<i64>) {
            let frame = frame_offset(index, self.size);
            let mut header = [0u8; 24];
            header[..4].copy_from_slice(&pgno.to_be_bytes());
            self.write_to_log(frame, &header, sync_point);
            self.write_to_log(frame + FRAME_HEADER_LEN, image, sync_point);
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Append a frame for `pgno` whose byte 19 is `byte`.
        Append { pgno: u32, byte: u8 },
        /// Overwrite the page of the `n`th frame of the current transaction.
        Overwrite { n: usize, byte: u8 },
        /// Commit; the sync point, if any, falls this many bytes into the last frames.
        Commit { split: Option<u16> },
        /// A new WAL generation: the header rewritten, frames from the start.
        Reset,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (prop_oneof![Just(1u32), 2u32..6], 0u8..4).prop_map(|(pgno, byte)| Op::Append { pgno, byte }),
            1 => (0usize..8, 0u8..4).prop_map(|(n, byte)| Op::Overwrite { n, byte }),
            1 => proptest::option::of(any::<u16>()).prop_map(|split| Op::Commit { split }),
            1 => Just(Op::Reset),
        ]
    }

    proptest! {
        /// Every write of a page-1 image's byte 19 is found, with the right byte, whatever the
        /// page size, the splits and the overwrites; nothing else is attributed to page 1.
        /// (Smaller pages and fewer operations under Miri, which grows the reference WAL one
        /// interpreted byte at a time.)
        #[test]
        fn finds_every_page1_byte(
            size_log in 9u32..=if cfg!(miri) { 12 } else { 16 },
            ops in proptest::collection::vec(op(), 0..if cfg!(miri) { 16 } else { 40 }),
        ) {
            let size = 1usize << size_log;
            let mut wal = Wal::new(size);
            wal.write(0, &wal_header(size, 0));
            let (mut next, mut txn): (usize, Vec<(usize, u32)>) = (0, Vec::new());
            let mut expected = Vec::new();
            for op in ops {
                match op {
                    Op::Append { pgno, byte } => {
                        wal.append(next, pgno, &page(size, 0xee, byte), None);
                        expected.push((pgno, byte));
                        txn.push((next, pgno));
                        next += 1;
                    }
                    Op::Overwrite { n, byte } => {
                        if let Some(&(index, pgno)) = txn.get(n) {
                            wal.write(frame_offset(index, size) + FRAME_HEADER_LEN, &page(size, 0xdd, byte));
                            expected.push((pgno, byte));
                        }
                    }
                    Op::Commit { split } => {
                        // The commit frame, split at a sync point somewhere inside it.
                        let point = split.map(|s| frame_offset(next, size) + i64::from(s) % (size as i64 + FRAME_HEADER_LEN));
                        wal.append(next, 1, &page(size, 0xcc, 1), point.filter(|&p| p > frame_offset(next, size)));
                        expected.push((1, 1));
                        next += 1;
                        txn.clear();
                    }
                    Op::Reset => {
                        wal.write(0, &wal_header(size, 1));
                        next = 0;
                        txn.clear();
                    }
                }
            }
            prop_assert_eq!(wal.seen, expected);
        }
    }

    fn frame_header(page: u32) -> [u8; 24] {
        let mut h = [0u8; 24];
        h[..4].copy_from_slice(&page.to_be_bytes());
        h
    }

    #[test]
    fn frames_and_overwrites() {
        let mut t = FrameTracker::default();
        assert_eq!(t.observe(32, &frame_header(1)), Probe::NeedPageSize, "a WAL opened with frames in it");
        assert!(t.learn(&wal_header(4096, 0)));
        assert_eq!(t.observe(32, &frame_header(1)), Probe::Nothing);
        assert_eq!(t.observe(56, &page(4096, 0, 1)), Probe::Page { page: 1, byte: 1 });
        // An overwrite of frame 0 after frame 1's header: read the page number.
        assert_eq!(t.observe(32 + 4120, &frame_header(9)), Probe::Nothing);
        assert_eq!(t.observe(56, &page(4096, 0, 1)), Probe::ReadPageNumber { frame_offset: 32, byte: 1 });
        // A split data write: the piece holding byte 19, then the rest.
        assert_eq!(t.observe(32 + 4120 + 24, &[7; 20]), Probe::Page { page: 9, byte: 7 });
        assert_eq!(t.observe(32 + 4120 + 44, &[7; 4076]), Probe::Nothing);
        // A 24-byte piece of a page is not mistaken for a frame header.
        assert_eq!(t.observe(32 + 2 * 4120, &frame_header(1)), Probe::Nothing);
        assert_eq!(t.observe(32 + 2 * 4120 + 24, &[1; 24]), Probe::Page { page: 1, byte: 1 });
        // A frame written in one piece.
        let mut whole = frame_header(1).to_vec();
        whole.extend(page(4096, 0, 0));
        assert_eq!(t.observe(32 + 3 * 4120, &whole), Probe::Page { page: 1, byte: 0 });
        // A new WAL header forgets the frame header and takes the new page size.
        assert_eq!(t.observe(0, &wal_header(512, 1)), Probe::Nothing);
        assert_eq!(t.observe(56, &page(512, 0, 1)), Probe::ReadPageNumber { frame_offset: 32, byte: 1 });
        assert!(!t.learn(&wal_header(1000, 0)));
        assert_eq!(t.observe(56, &page(512, 0, 1)), Probe::NeedPageSize);
    }

    #[test]
    fn page1_bytes() {
        let never = |_| -> Result<u32, ()> { panic!("no read needed") };
        assert_eq!(Probe::Nothing.page1_byte(never), Ok(None));
        assert_eq!(Probe::Page { page: 1, byte: 1 }.page1_byte(never), Ok(Some(1)));
        assert_eq!(Probe::Page { page: 1, byte: 2 }.page1_byte(never), Ok(None));
        assert_eq!(Probe::Page { page: 7, byte: 0 }.page1_byte(never), Ok(None));
        assert_eq!(Probe::ReadPageNumber { frame_offset: 32, byte: 2 }.page1_byte(never), Ok(None));
        assert_eq!(
            Probe::ReadPageNumber { frame_offset: 32, byte: 0 }.page1_byte(|at| if at == 32 { Ok::<_, ()>(1) } else { Err(()) }),
            Ok(Some(0))
        );
        assert_eq!(Probe::ReadPageNumber { frame_offset: 32, byte: 0 }.page1_byte(|_| Ok::<_, ()>(5)), Ok(None));
        assert_eq!(Probe::ReadPageNumber { frame_offset: 32, byte: 0 }.page1_byte(|_| Err::<u32, _>(10)), Err(10));
    }
}
