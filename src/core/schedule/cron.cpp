#include "core/schedule/cron.hpp"

#include "core/error.hpp"
#include "core/schedule/civil_time.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <sstream>
#include <vector>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::schedule {

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kSearchDays = 8 * 366 + 2; // covers a February 29th whatever the start

const char *const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
const char *const kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct FieldSpec {
	const char *name;
	int min, max;
	const char *const *names; // names[i] stands for min + i (nullptr: numbers only)
	int name_count;
};

const FieldSpec kFields[] = {
    {"minute", 0, 59, nullptr, 0},     {"hour", 0, 23, nullptr, 0},         {"day of month", 1, 31, nullptr, 0},
    {"month", 1, 12, kMonthNames, 12}, {"day of week", 0, 7, kDayNames, 7},
};

[[noreturn]] void bad_field(const FieldSpec &spec, const std::string &text, const std::string &why) {
	throw Error(ErrorKind::InvalidInput, "invalid cron " + std::string(spec.name) + " \"" + text + "\": " + why);
}

int parse_value(const FieldSpec &spec, const std::string &field, const std::string &text) {
	if (text.empty())
		bad_field(spec, field, "empty value");
	if (std::isdigit(static_cast<unsigned char>(text[0]))) {
		int value = 0;
		for (char c : text) {
			if (!std::isdigit(static_cast<unsigned char>(c)) || value > 1000)
				bad_field(spec, field, "\"" + text + "\" is not a number");
			value = value * 10 + (c - '0');
		}
		if (value < spec.min || value > spec.max)
			bad_field(spec, field,
			          std::to_string(value) + " is out of range " + std::to_string(spec.min) + "-" +
			              std::to_string(spec.max));
		return value;
	}
	std::string lower;
	for (char c : text)
		lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	for (int i = 0; i < spec.name_count; i++)
		if (lower == spec.names[i])
			return spec.min + i;
	bad_field(spec, field, "\"" + text + "\" is not a " + (spec.names ? "number or name" : "number"));
}

// Sets bits[min..max] of one field; returns whether the field starts with '*' (Vixie's rule for
// combining the two day fields).
bool parse_field(const FieldSpec &spec, const std::string &field, std::vector<bool> &bits) {
	bits.assign(spec.max + 1, false);
	std::stringstream items(field);
	std::string item;
	bool any_item = false;
	while (std::getline(items, item, ',')) {
		any_item = true;
		std::string range = item;
		int step = 1;
		size_t slash = item.find('/');
		if (slash != std::string::npos) {
			range = item.substr(0, slash);
			std::string step_text = item.substr(slash + 1);
			// Every character a digit: "*/5x" is refused, not read as "*/5".
			bool digits = !step_text.empty() && std::all_of(step_text.begin(), step_text.end(), [](char c) {
				return std::isdigit(static_cast<unsigned char>(c));
			});
			if (!digits)
				bad_field(spec, field, "step \"" + step_text + "\" is not a number");
			step = step_text.size() > 6 ? 0 : std::stoi(step_text);
			if (step < 1 || step > spec.max - spec.min + 1)
				bad_field(spec, field, "step " + step_text + " is out of range");
		}
		int lo, hi;
		if (range == "*") {
			lo = spec.min;
			hi = spec.max;
		} else {
			size_t dash = range.find('-');
			lo = parse_value(spec, field, range.substr(0, dash));
			if (dash != std::string::npos)
				hi = parse_value(spec, field, range.substr(dash + 1));
			else
				hi = slash != std::string::npos ? spec.max : lo; // "a/n" means a-max/n
			if (lo > hi)
				bad_field(spec, field, "range " + range + " runs backwards");
		}
		for (int v = lo; v <= hi; v += step)
			bits[v] = true;
	}
	if (!any_item || field.back() == ',')
		bad_field(spec, field, "empty list item");
	return field[0] == '*';
}

std::string expand_shorthand(const std::string &expression) {
	static const std::pair<const char *, const char *> kShorthands[] = {
	    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
	    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
	};
	for (const auto &s : kShorthands)
		if (expression == s.first)
			return s.second;
	if (!expression.empty() && expression[0] == '@')
		throw Error(ErrorKind::InvalidInput, "unknown cron shorthand \"" + expression + "\"");
	return expression;
}

template <size_t N> void copy_bits(const std::vector<bool> &from, std::bitset<N> &to) {
	for (size_t i = 0; i < N && i < from.size(); i++)
		to[i] = from[i];
}

} // namespace

CronSchedule CronSchedule::parse(const std::string &expression) {
	std::stringstream words(expand_shorthand(expression));
	std::vector<std::string> fields;
	std::string word;
	while (words >> word)
		fields.push_back(word);
	if (fields.size() != 5)
		throw Error(ErrorKind::InvalidInput, "invalid cron expression \"" + expression + "\": expected 5 fields " +
		                                         "(minute hour day-of-month month day-of-week), found " +
		                                         std::to_string(fields.size()));
	CronSchedule cron;
	cron.expression_ = expression;
	std::vector<bool> bits;
	parse_field(kFields[0], fields[0], bits);
	copy_bits(bits, cron.minutes_);
	parse_field(kFields[1], fields[1], bits);
	copy_bits(bits, cron.hours_);
	cron.day_of_month_any_ = parse_field(kFields[2], fields[2], bits);
	copy_bits(bits, cron.days_of_month_);
	parse_field(kFields[3], fields[3], bits);
	copy_bits(bits, cron.months_);
	cron.day_of_week_any_ = parse_field(kFields[4], fields[4], bits);
	if (bits[7])
		bits[0] = true; // 7 is Sunday too
	copy_bits(bits, cron.days_of_week_);
	if (!cron.next_after(0, FixedOffsetZone()))
		throw Error(ErrorKind::InvalidInput, "cron expression \"" + expression + "\" never runs");
	return cron;
}

bool CronSchedule::day_matches(int64_t days) const {
	CivilDate date = civil_from_days(days);
	if (!months_[date.month])
		return false;
	bool dom = days_of_month_[date.day];
	bool dow = days_of_week_[weekday(days)];
	return (day_of_month_any_ || day_of_week_any_) ? (dom && dow) : (dom || dow);
}

std::optional<int64_t> CronSchedule::next_after(int64_t utc, const TimeZone &zone) const {
	// Walk wall-clock minutes from the one after `utc`'s, in order; from_local never goes
	// backwards as local time advances, so the first candidate after `utc` is the earliest.
	int64_t start = floor_div(to_local(zone, utc), 60) * 60 + 60;
	int64_t first_day = floor_div(start, kDay);
	int first_minute = static_cast<int>((start - first_day * kDay) / 60);
	for (int64_t day = first_day; day < first_day + kSearchDays; day++) {
		if (!day_matches(day))
			continue;
		int from = day == first_day ? first_minute : 0;
		for (int hour = from / 60; hour < 24; hour++) {
			if (!hours_[hour])
				continue;
			for (int minute = hour == from / 60 ? from % 60 : 0; minute < 60; minute++) {
				if (!minutes_[minute])
					continue;
				int64_t run = from_local(zone, day * kDay + hour * 3600 + minute * 60);
				if (run > utc)
					return run;
			}
		}
	}
	return std::nullopt;
}

std::optional<int64_t> CronSchedule::last_at_or_before(int64_t utc, const TimeZone &zone) const {
	// Search forward from ever further back: runs are found forwards only, in one place. The
	// first window is short, so a frequent schedule steps over a few runs (an hour of a minutely
	// one), not over days of them; a rare one finds none there and widens the window.
	for (int64_t seconds_back : {int64_t(3600), kDay + 3600, 8 * kDay, 35 * kDay, 370 * kDay, kSearchDays * kDay}) {
		std::optional<int64_t> last;
		for (auto run = next_after(utc - seconds_back - 1, zone); run && *run <= utc; run = next_after(*run, zone))
			last = run;
		if (last)
			return last;
	}
	return std::nullopt;
}

int64_t window_offset_seconds(const std::string &tenant, int window_minutes) {
	if (window_minutes <= 0)
		return 0;
	uint64_t hash = 14695981039346656037ull; // FNV-1a: stable across platforms and releases
	for (unsigned char c : tenant) {
		hash ^= c;
		hash *= 1099511628211ull;
	}
	return static_cast<int64_t>(hash % (static_cast<uint64_t>(window_minutes) * 60));
}

int64_t next_cadence_run(const std::string &tenant, int64_t interval_seconds, int64_t after) {
	if (interval_seconds <= 0)
		throw Error(ErrorKind::InvalidInput, "a cadence needs a positive interval");
	int64_t minutes = interval_seconds / 60;
	int64_t offset =
	    minutes > 0 ? window_offset_seconds(tenant, static_cast<int>(std::min<int64_t>(minutes, INT32_MAX))) : 0;
	offset %= interval_seconds;
	// The first k with k * interval + offset > after (floor division, also before the epoch).
	int64_t from = after - offset;
	int64_t k = from >= 0 ? from / interval_seconds : -((-from + interval_seconds - 1) / interval_seconds);
	return (k + 1) * interval_seconds + offset;
}

} // namespace tb::schedule
