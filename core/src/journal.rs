//! Does a rollback journal hold the page 1 that is being written?
//!
//! A header going from WAL (2) back to rollback (1) is legitimate in one situation: a
//! transaction that switched the file from 1 to 2 never committed, and its rollback journal
//! is being played back (after a crash, by whichever connection finds the hot journal). The
//! journal then holds the original page 1, with read version 1, and SQLite writes it back
//! byte for byte. A real downgrade is the opposite: the journal of the downgrading
//! transaction holds the committed page 1, with read version 2.
//!
//! So the test is: is the page being written identical to a page-1 record of the journal
//! that SQLite itself would accept while playing it back as a hot journal? The walk below
//! follows `pager_playback` and `readJournalHdr` in pager.c: headers on sector boundaries,
//! `nRec` records of `pgno | page | checksum` after each header, the checksum seeded by the
//! header's `cksumInit`.

/// Random-access reads of a journal file.
pub trait JournalSource {
    /// Size of the journal in bytes.
    fn size(&mut self) -> Option<u64>;
    /// Fill `buf` from `offset`; false when the bytes are not all there.
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> bool;
}

impl JournalSource for &[u8] {
    fn size(&mut self) -> Option<u64> {
        Some(self.len() as u64)
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> bool {
        let Ok(start) = usize::try_from(offset) else { return false };
        match start.checked_add(buf.len()).and_then(|end| self.get(start..end)) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}

pub const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

/// Size of the fields at the start of a journal header that this module reads.
const HEADER_FIELDS: usize = 28;

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// `pager_cksum`: the seed plus every 200th byte, walking down from `page_size - 200`.
pub fn page_checksum(cksum_init: u32, page: &[u8]) -> u32 {
    (1..)
        .map(|k| page.len() as i64 - 200 * k)
        .take_while(|&i| i > 0)
        .fold(cksum_init, |sum, i| sum.wrapping_add(u32::from(page[i as usize])))
}

fn valid_geometry(page_size: u32, sector_size: u32) -> bool {
    (512..=65536).contains(&page_size)
        && page_size.is_power_of_two()
        && (32..=0x10000).contains(&sector_size)
        && sector_size.is_power_of_two()
}

/// True when `page` (being written at offset 0 of the database) is byte-identical to a
/// page-1 record that playing back `journal` as a hot journal would write.
pub fn journal_restores_page1(journal: &mut impl JournalSource, page: &[u8]) -> bool {
    let Some(size) = journal.size() else { return false };
    let mut fields = [0u8; HEADER_FIELDS];
    if !journal.read_exact_at(0, &mut fields) || fields[..8] != JOURNAL_MAGIC {
        return false;
    }
    let (sector, page_size) = (be32(&fields, 20), be32(&fields, 24));
    if !valid_geometry(page_size, sector) || page_size as usize != page.len() {
        return false;
    }
    let (sector, record_len) = (u64::from(sector), u64::from(page_size) + 8);
    // The page holding the pending byte ends a playback (`PAGER_SJ_PGNO`).
    let pending_byte_page = 0x4000_0000 / u64::from(page_size) + 1;
    let mut record = vec![0u8; record_len as usize];
    let mut header_offset = 0u64;
    loop {
        if header_offset + sector > size {
            return false;
        }
        if header_offset > 0 && !(journal.read_exact_at(header_offset, &mut fields) && fields[..8] == JOURNAL_MAGIC) {
            return false;
        }
        let cksum_init = be32(&fields, 12);
        let mut n_rec = u64::from(be32(&fields, 8));
        if n_rec == 0xffff_ffff && header_offset == 0 {
            n_rec = (size - sector) / record_len;
        }
        let mut offset = header_offset + sector;
        for _ in 0..n_rec {
            if !journal.read_exact_at(offset, &mut record) {
                return false;
            }
            offset += record_len;
            // `pager_playback_one_page` ends the playback at a record with page number 0, the
            // pending-byte page, or a checksum that does not match, whatever its page.
            let pgno = u64::from(be32(&record, 0));
            let data = &record[4..record.len() - 4];
            if pgno == 0 || pgno == pending_byte_page || page_checksum(cksum_init, data) != be32(&record, record.len() - 4) {
                return false;
            }
            if pgno == 1 && data == page {
                return true;
            }
        }
        // The next header starts on the next sector boundary (`journalHdrOffset`).
        header_offset = offset.div_ceil(sector) * sector;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn page(fill: u8, read_version: u8, size: usize) -> Vec<u8> {
        let mut p = vec![fill; size];
        p[..16].copy_from_slice(crate::header::MAGIC);
        p[18] = read_version;
        p[19] = read_version;
        p
    }

    /// A journal as SQLite writes it: one header per segment, `nRec` records after each.
    pub(crate) fn journal(segments: &[&[(u32, Vec<u8>)]], sector: u32, page_size: u32, cksum_init: u32) -> Vec<u8> {
        let mut j = Vec::new();
        for records in segments {
            let start = j.len().div_ceil(sector as usize) * sector as usize;
            j.resize(start, 0);
            let mut hdr = vec![0u8; sector as usize];
            hdr[..8].copy_from_slice(&JOURNAL_MAGIC);
            hdr[8..12].copy_from_slice(&(records.len() as u32).to_be_bytes());
            hdr[12..16].copy_from_slice(&cksum_init.to_be_bytes());
            hdr[16..20].copy_from_slice(&7u32.to_be_bytes());
            hdr[20..24].copy_from_slice(&sector.to_be_bytes());
            hdr[24..28].copy_from_slice(&page_size.to_be_bytes());
            j.extend_from_slice(&hdr);
            for (pgno, data) in records.iter() {
                j.extend_from_slice(&pgno.to_be_bytes());
                j.extend_from_slice(data);
                j.extend_from_slice(&page_checksum(cksum_init, data).to_be_bytes());
            }
        }
        j
    }

    fn restores(j: &[u8], p: &[u8]) -> bool {
        journal_restores_page1(&mut &j[..], p)
    }

    #[test]
    fn checksum_matches_sqlite_definition() {
        let mut p = vec![0u8; 1024];
        p[824] = 1;
        p[624] = 2;
        p[424] = 3;
        p[224] = 4;
        p[24] = 5;
        p[0] = 100; // index 0 is never summed: the loop stops at i > 0
        assert_eq!(page_checksum(10, &p), 10 + 1 + 2 + 3 + 4 + 5);
        assert_eq!(page_checksum(u32::MAX, &p), 14);
    }

    #[test]
    fn finds_original_page1() {
        let original = page(0xaa, 1, 4096);
        let j = journal(&[&[(1, original.clone())]], 512, 4096, 0x1234);
        assert!(restores(&j, &original));
    }

    #[test]
    fn a_downgrade_journal_holds_the_wal_page() {
        let committed = page(0xaa, 2, 4096);
        let j = journal(&[&[(1, committed)]], 512, 4096, 9);
        assert!(!restores(&j, &page(0xaa, 1, 4096)));
    }

    #[test]
    fn finds_page1_after_other_pages_and_in_later_segments() {
        let original = page(0x11, 1, 1024);
        let j = journal(&[&[(3, vec![1; 1024]), (2, vec![2; 1024])], &[(5, vec![5; 1024]), (1, original.clone())]], 512, 1024, 77);
        assert!(restores(&j, &original));
    }

    #[test]
    fn rejects_damaged_or_foreign_journals() {
        let original = page(0xaa, 1, 4096);
        let good = journal(&[&[(1, original.clone())]], 512, 4096, 5);

        let mut zeroed_header = good.clone(); // PERSIST mode after commit
        zeroed_header[..28].fill(0);
        assert!(!restores(&zeroed_header, &original));

        let mut bad_checksum = good.clone();
        let last = bad_checksum.len() - 1;
        bad_checksum[last] ^= 1;
        assert!(!restores(&bad_checksum, &original));

        let mut zero_records = good.clone(); // header not yet synced: nothing to play back
        zero_records[8..12].fill(0);
        assert!(!restores(&zero_records, &original));

        assert!(!restores(&good[..good.len() - 1], &original));
        assert!(!restores(&[], &original));
        assert!(!restores(&good, &original[..1024]), "page size differs from the write");
        let mut other_page = original.clone();
        other_page[30] ^= 1;
        assert!(!restores(&good, &other_page));
    }

    #[test]
    fn playback_stops_at_any_damaged_record() {
        let original = page(0x11, 1, 1024);
        let mut j = journal(&[&[(3, vec![1; 1024]), (1, original.clone())]], 512, 1024, 77);
        assert!(restores(&j, &original));
        // Damage the checksum of page 3's record: SQLite would never reach page 1.
        let record3_checksum = 512 + 4 + 1024;
        j[record3_checksum] ^= 1;
        assert!(!restores(&j, &original));
    }

    #[test]
    fn unsynced_record_count_is_taken_from_the_size() {
        let original = page(0xaa, 1, 512);
        let mut j = journal(&[&[(4, vec![4; 512]), (1, original.clone())]], 512, 512, 3);
        j[8..12].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
        assert!(restores(&j, &original));
    }

    #[test]
    fn invalid_geometry_is_not_a_journal() {
        let original = page(0xaa, 1, 4096);
        for (sector, size) in [(16, 4096), (500, 4096), (512, 4000), (512, 256)] {
            let mut j = journal(&[&[(1, original.clone())]], 512, 4096, 1);
            j[20..24].copy_from_slice(&(sector as u32).to_be_bytes());
            j[24..28].copy_from_slice(&(size as u32).to_be_bytes());
            assert!(!restores(&j, &original), "sector {sector} page {size}");
        }
    }

    proptest! {
        /// Arbitrary bytes never panic and essentially never look like a restore. (Shorter under
        /// Miri, where each generated byte costs milliseconds; still past a header and a record.)
        #[test]
        fn arbitrary_journals_are_harmless(bytes in proptest::collection::vec(any::<u8>(), 0..if cfg!(miri) { 1_000 } else { 3000 }), fill in any::<u8>()) {
            let p = page(fill, 1, 512);
            let _ = restores(&bytes, &p);
            let mut magic = JOURNAL_MAGIC.to_vec();
            magic.extend_from_slice(&bytes);
            let _ = restores(&magic, &p);
        }

        /// Whatever surrounds it, a checksummed page-1 record equal to the write is found.
        #[test]
        fn page1_is_found_among_random_records(before in proptest::collection::vec(2u32..1000, 0..6), seed in any::<u32>(), fill in any::<u8>()) {
            let original = page(fill, 1, 512);
            let mut records: Vec<(u32, Vec<u8>)> = before.iter().map(|&n| (n, vec![n as u8; 512])).collect();
            records.push((1, original.clone()));
            let j = journal(&[&records], 512, 512, seed);
            prop_assert!(restores(&j, &original));
            let mut wal = original.clone();
            wal[19] = 2;
            prop_assert!(!restores(&j, &wal));
        }
    }
}
