// The diff engine's streamed comparison: the backup's rows of a table as the archive holds them
// (binary COPY tuples, checked and mapped as every restore path reads them: archived_tuples.hpp)
// against the tenant's rows now, encoded by the send functions a backup encodes them with
// (tuple_encoding.hpp). Rows match when their key fields are the same bytes, and are the same
// when all their fields are: exactly the values a restore writes. No temporary table: the backup's
// rows go into a hash table on their key's bytes, within work_mem × hash_mem_multiplier as a hash
// join's; past that, both sides are split by a hash of the key into temporary files (BufFile) and
// compared one partition at a time. One pass over the archive, one over the tenant's rows.
//
// Only for keys whose equal values are equal bytes (key_streams): a comparison by any other key
// keeps the SQL join of diff_engine.hpp, whose rule (the key's operator class, rows_differ) this
// one gives the same answer as.
#pragma once
#include "core/archive/archive_reader.hpp"
#include "pg/archive/diff_engine.hpp"
#include "pg/archive/spill_file.hpp"

#include <memory>

namespace tb {
class HelperThread;
}

namespace tb::pg {

// Whether rows of the table matched by `key` can be compared as bytes: a key (primary, or unique on
// NOT NULL columns) of integers, oid, uuid, bool, date, timestamp(tz), or text and varchar under a
// deterministic collation while the client encoding is the database's (send functions convert
// text to the client encoding). Needs SPI connected.
bool key_streams(Oid relid, const RowKey &key);

struct StreamedCounts {
	uint64 only_in_backup = 0, only_live = 0, changed = 0, unchanged = 0;
	uint64 archived = 0; // the backup's rows of the table
};

enum class Streamed {
	Compared,
	DuplicateKeys,      // the backup holds two rows of one key (a key added since): nothing written
	TooManyDifferences, // past max_differences: the differences written are incomplete
};

struct StreamedTable {
	const RestoredTable *table = nullptr; // planned: its load columns are both sides' columns
	const RowKey *key = nullptr;
	// The tenant's rows are read under this snapshot (a comparison's), or under a new one when
	// null (a restore's statements), as the table's owner when `as_owner` (a restore's reads).
	Snapshot snapshot = nullptr;
	bool as_owner = false;
	// A restore's: stop reading the tenant's rows (TooManyDifferences) once kDifferenceSampleRows
	// of them were compared and most of those differ (mostly_differ, diff_apply.hpp): such a
	// table is cheaper deleted and reloaded, and a restore does so. Instead of a sample first.
	bool stop_when_most_differ = false;
};

// The first part of a streamed comparison, the backup's rows of a table read into their hash
// table, started ahead on a helper thread (HelperThread: pure C++, the archive's decryption,
// decompression and checks) while the backend's thread compares the table before; tables whose
// columns convert (PostgreSQL code) are read later, on the backend's thread, as are rows past the
// memory budget (so make none for them ahead: their conversions pin settings in a GUC nest level
// that lives as long as this does). `on_helper_thread` false: nothing starts (stream_differences reads it all). The
// reader, header and table must outlive it. `unchanged_before`: the table's, as its maker found it
// (unchanged_rows.hpp), for the comparison. Needs SPI connected.
class ArchivedReadAhead {
public:
	ArchivedReadAhead(archive::ArchiveReader &reader, const archive::TableHeader &header, const StreamedTable &table,
	                  int64 backup_id, uint64 expected_rows, bool on_helper_thread,
	                  std::optional<TransactionId> unchanged_before);
	~ArchivedReadAhead();
	ArchivedReadAhead(const ArchivedReadAhead &) = delete;
	ArchivedReadAhead &operator=(const ArchivedReadAhead &) = delete;
	struct State;
	// Waits for the helper thread; rethrows what it threw.
	State &join();

private:
	std::unique_ptr<State> state_;
	std::unique_ptr<HelperThread> helper_; // declared last: stopped and joined first
};

// Compares the reader's current table (`header`, the backup's) with the tenant's rows now; every
// archived row is checked and counted against the archive's own count. `differences`, if given,
// receives one binary COPY tuple (no header) per difference, up to `max_differences` of them: a
// kind ('a' only in the backup, 'r' only live, 'c' changed), then the table's load columns: the
// backup's row for 'a' and 'c', the live row for 'r'. Without it, rows of one key
// in the backup twice are each compared, as the SQL join does. `ahead`: this table's rows read
// ahead (else they are read here). Needs SPI connected.
Streamed stream_differences(archive::ArchiveReader &reader, const archive::TableHeader &header,
                            const StreamedTable &table, const StoredBackup &backup, uint64 expected_rows,
                            uint64 max_differences, SpillFile *differences, StreamedCounts &counts,
                            ArchivedReadAhead *ahead = nullptr);

} // namespace tb::pg
