//! The journal format recorded in a database header.
//!
//! Byte 19 of the header (the "file format read version") is what SQLite looks at when it
//! opens a database: 2 means the file must be accessed through a WAL, 1 means a rollback
//! journal (`lockBtree` in btree.c). Byte 18, the write version, follows it in every header
//! SQLite writes, but it is byte 19 that decides how every other connection treats the file,
//! so that is the byte a downgrade flips.

/// The 16 bytes every SQLite database starts with.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Length of the database header. A file shorter than this has no header yet.
pub const HEADER_LEN: usize = 100;

/// Offset of the read version, the byte that selects WAL (2) or a rollback journal (1).
pub const READ_VERSION_OFFSET: usize = 19;

/// The read version of a WAL database. Any other value SQLite opens at all (0 and 1) means a
/// rollback journal.
pub const WAL_READ_VERSION: u8 = 2;

/// What a database header says about the journal, as far as walguard cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFormat {
    /// No database header: an empty or short file, or one that is not an SQLite database.
    Absent,
    /// Read version 1, or 0 (which SQLite opens the same way): rollback journal (DELETE,
    /// TRUNCATE, PERSIST, MEMORY or OFF).
    Rollback,
    /// Read version 2: write-ahead log.
    Wal,
    /// A header SQLite itself refuses to open (`SQLITE_NOTADB`): a read version above 2, a
    /// page size that is not a power of two from 512 to 65536, or payload fractions other than
    /// 64, 32, 32 (`lockBtree` in btree.c).
    Other,
}

impl HeaderFormat {
    /// Classify the first bytes of a database file. `bytes` must start at offset 0.
    pub fn parse(bytes: &[u8]) -> HeaderFormat {
        match bytes.get(..HEADER_LEN) {
            // Fixed-size comparisons: word compares, not memcmp calls (this runs on every
            // page-1 write of a rollback-mode commit).
            Some(header) if header[..16] == MAGIC[..] => {
                let page_size = u32::from(u16::from_be_bytes([header[16], header[17]]));
                let page_size = if page_size == 1 { 65536 } else { page_size };
                let well_formed = header[21..24] == [64, 32, 32] && (512..=65536).contains(&page_size) && page_size.is_power_of_two();
                if well_formed { Self::from_read_version(header[READ_VERSION_OFFSET]) } else { HeaderFormat::Other }
            }
            _ => HeaderFormat::Absent,
        }
    }

    /// Classify a read-version byte, assuming the header around it is valid.
    pub fn from_read_version(byte: u8) -> HeaderFormat {
        match byte {
            0 | 1 => HeaderFormat::Rollback,
            WAL_READ_VERSION => HeaderFormat::Wal,
            _ => HeaderFormat::Other,
        }
    }
}

/// The read-version byte a write of `data` at `offset` puts on disk, if the write covers it.
pub fn written_read_version(offset: i64, data: &[u8]) -> Option<u8> {
    let target = READ_VERSION_OFFSET as i64;
    if offset > target {
        return None;
    }
    let index = usize::try_from(target - offset).ok()?;
    data.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(read_version: u8) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[..16].copy_from_slice(MAGIC);
        h[16..18].copy_from_slice(&4096u16.to_be_bytes());
        h[18] = read_version;
        h[19] = read_version;
        h[21..24].copy_from_slice(&[64, 32, 32]);
        h
    }

    #[test]
    fn a_malformed_header_is_one_sqlite_refuses() {
        assert_eq!(HeaderFormat::parse(&header(2)), HeaderFormat::Wal);
        let mut h = header(2);
        h[16..18].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(HeaderFormat::parse(&h), HeaderFormat::Other, "page size not a power of two");
        h[16..18].copy_from_slice(&1u16.to_be_bytes());
        assert_eq!(HeaderFormat::parse(&h), HeaderFormat::Wal, "1 means 65536");
        h[16..18].copy_from_slice(&256u16.to_be_bytes());
        assert_eq!(HeaderFormat::parse(&h), HeaderFormat::Other, "below 512");
        let mut h = header(2);
        h[21] = 63;
        assert_eq!(HeaderFormat::parse(&h), HeaderFormat::Other, "payload fraction");
    }

    #[test]
    fn classifies_headers() {
        assert_eq!(HeaderFormat::parse(&header(1)), HeaderFormat::Rollback);
        assert_eq!(HeaderFormat::parse(&header(2)), HeaderFormat::Wal);
        assert_eq!(HeaderFormat::parse(&header(3)), HeaderFormat::Other);
        // `lockBtree` only refuses a read version above 2: 0 opens as a rollback database.
        assert_eq!(HeaderFormat::parse(&header(0)), HeaderFormat::Rollback);
    }

    #[test]
    fn read_version_alone_decides() {
        let mut h = header(2);
        h[18] = 1;
        assert_eq!(HeaderFormat::parse(&h), HeaderFormat::Wal);
        h[18] = 2;
        h[19] = 1;
        assert_eq!(HeaderFormat::parse(&h), HeaderFormat::Rollback);
    }

    #[test]
    fn no_header_without_magic_or_length() {
        assert_eq!(HeaderFormat::parse(&[]), HeaderFormat::Absent);
        assert_eq!(HeaderFormat::parse(&header(2)[..99]), HeaderFormat::Absent);
        let mut h = header(2);
        h[0] = b's';
        assert_eq!(HeaderFormat::parse(&h), HeaderFormat::Absent);
    }

    proptest::proptest! {
        /// Any bytes at all: no panic, and WAL exactly when SQLite would open the file as WAL.
        #[test]
        fn parse_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), magic in proptest::prelude::any::<bool>(), fields in proptest::prelude::any::<bool>()) {
            let mut bytes = bytes;
            if magic && bytes.len() >= 16 {
                bytes[..16].copy_from_slice(MAGIC);
            }
            if fields && bytes.len() >= 24 {
                bytes[16..18].copy_from_slice(&1024u16.to_be_bytes());
                bytes[21..24].copy_from_slice(&[64, 32, 32]);
            }
            let size = bytes.get(16..18).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]]))).map(|s| if s == 1 { 65536 } else { s });
            let size_ok = size.is_some_and(|s| (512..=65536).contains(&s) && s.is_power_of_two());
            let wal = bytes.len() >= 100 && bytes.starts_with(MAGIC) && bytes[19] == 2 && bytes[21..24] == [64, 32, 32] && size_ok;
            proptest::prop_assert_eq!(HeaderFormat::parse(&bytes) == HeaderFormat::Wal, wal);
        }

        /// Any offset and length: the byte written at offset 19, if the write covers it.
        #[test]
        fn written_byte_any_write(offset in -100i64..200, len in 0usize..300) {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let expected = (offset <= 19 && 19 < offset + len as i64).then(|| (19 - offset) as u8);
            proptest::prop_assert_eq!(written_read_version(offset, &data), expected);
        }
    }

    #[test]
    fn written_byte_only_when_covered() {
        let page = header(1);
        assert_eq!(written_read_version(0, &page), Some(1));
        assert_eq!(written_read_version(0, &page[..19]), None);
        assert_eq!(written_read_version(19, &[7]), Some(7));
        assert_eq!(written_read_version(18, &[7, 8]), Some(8));
        assert_eq!(written_read_version(20, &page), None);
        assert_eq!(written_read_version(4096, &page), None);
        assert_eq!(written_read_version(-1, &[0; 30]), Some(0));
    }
}
