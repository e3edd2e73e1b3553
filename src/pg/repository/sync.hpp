// Making the repositories hold what the catalog says (see sync.cpp): shared by the SQL
// function backup_sync() and the scheduler's periodic sync worker. Needs SPI connected, READ
// COMMITTED, and a caller allowed to (superuser or a background worker).
#pragma once
#include "pg/boundary/pg_headers.hpp"
#include "pg/repository/repository_survey.hpp"

#include <functional>
#include <optional>
#include <string>

namespace tb::pg {

struct SyncRow {
	std::optional<int64> backup_id;
	std::string repository;
	const char *action; // check, mark_missing, remove_leftover, abort_upload, store_copy
	std::string object_name;
	std::string error; // empty: done
};

struct SyncSummary {
	int done = 0, failed = 0;
	std::string first_error; // "repository: error" of the first failed action
	std::string text() const { return std::to_string(done) + " done, " + std::to_string(failed) + " failed"; }
	void add(const SyncRow &row) {
		(row.error.empty() ? done : failed)++;
		if (first_error.empty() && !row.error.empty())
			first_error = row.repository + ": " + row.error;
	}
};

// Every action is handed to sink as it is taken. With breaks (the periodic sync worker), the work
// is split into short transactions: the survey's parts (repository_survey.hpp), a hundred actions,
// one copy stored; the listings run outside any transaction.
SyncSummary synchronize_repositories(const std::function<void(const SyncRow &)> &sink,
                                     const TransactionBreaks &breaks = {});

} // namespace tb::pg
