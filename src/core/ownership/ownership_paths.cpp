#include "core/ownership/ownership_paths.hpp"

#include <algorithm>

#include "core/cpp_only.hpp" // last: fails if anything above brought in PostgreSQL

namespace tb::ownership {

namespace {

struct Graph {
	const std::vector<Table> &tables;
	const std::vector<Edge> &edges;
	std::vector<std::vector<size_t>> out; // per table, the edges leaving it, self-references left out

	Graph(const std::vector<Table> &t, const std::vector<Edge> &e) : tables(t), edges(e), out(t.size()) {
		for (size_t i = 0; i < e.size(); i++)
			if (e[i].child != e[i].parent)
				out[e[i].child].push_back(i);
	}

	// The declared edge of a table, or -1 if the table declares none or a constraint it lacks.
	int declared_edge(size_t table) const {
		for (size_t e : out[table])
			if (edges[e].constraint == tables[table].declared)
				return static_cast<int>(e);
		return -1;
	}
};

struct Owners {
	std::vector<bool> owned;
	std::vector<int> via, depth;
};

// Tables owned from the Direct ones outwards, one foreign key further each round, so that each
// table is reached by its shortest chain. `may_own` says which tables may join.
Owners spread(const Graph &g, const std::vector<bool> &may_own) {
	size_t n = g.tables.size();
	Owners o{std::vector<bool>(n, false), std::vector<int>(n, -1), std::vector<int>(n, 0)};
	for (size_t t = 0; t < n; t++)
		o.owned[t] = g.tables[t].role == Role::Direct;
	for (bool grew = true; grew;) {
		grew = false;
		std::vector<bool> before = o.owned;
		for (size_t t = 0; t < n; t++) {
			if (before[t] || !may_own[t])
				continue;
			int chosen = -1;
			if (!g.tables[t].declared.empty()) {
				int e = g.declared_edge(t);
				if (e >= 0 && before[g.edges[e].parent])
					chosen = e;
			} else {
				for (size_t e : g.out[t])
					if (before[g.edges[e].parent]) {
						chosen = static_cast<int>(e);
						break;
					}
			}
			if (chosen < 0)
				continue;
			o.owned[t] = true;
			o.via[t] = chosen;
			o.depth[t] = o.depth[g.edges[chosen].parent] + 1;
			grew = true;
		}
	}
	return o;
}

// Whether following `from`'s chain of chosen edges passes through `table`.
bool chain_contains(const Graph &g, const Owners &o, size_t from, size_t table) {
	for (size_t t = from, steps = 0; steps <= g.tables.size(); steps++) {
		if (t == table)
			return true;
		if (o.via[t] < 0)
			return false;
		t = g.edges[o.via[t]].parent;
	}
	return true; // cannot happen: chains end at a Direct table
}

std::string describe(const Graph &g, size_t e) {
	return g.edges[e].constraint + " (to " + g.tables[g.edges[e].parent].name + ")";
}

} // namespace

std::vector<Assignment> resolve(const std::vector<Table> &tables, const std::vector<Edge> &edges) {
	Graph g(tables, edges);
	size_t n = tables.size();
	std::vector<bool> may_own(n), ambiguous(n, false);
	for (size_t t = 0; t < n; t++)
		may_own[t] = tables[t].role == Role::Candidate;
	std::vector<std::vector<size_t>> candidates(n);

	// A table with two foreign keys that lead to tenant rows (neither through itself) is
	// ambiguous: it may not own rows, which can change what other tables reach, so spread again.
	Owners o;
	for (;;) {
		o = spread(g, may_own);
		bool changed = false;
		for (size_t t = 0; t < n; t++) {
			if (!o.owned[t] || o.via[t] < 0 || !tables[t].declared.empty())
				continue;
			std::vector<size_t> found;
			for (size_t e : g.out[t])
				if (o.owned[edges[e].parent] && !chain_contains(g, o, edges[e].parent, t))
					found.push_back(e);
			if (found.size() > 1) {
				ambiguous[t] = true;
				may_own[t] = false;
				candidates[t] = found;
				changed = true;
			} else if (found.size() == 1) {
				o.via[t] = static_cast<int>(found[0]);
			}
		}
		if (!changed)
			break;
	}
	// Depths after the last choice of edges.
	for (size_t t = 0; t < n; t++)
		if (o.owned[t] && o.via[t] >= 0) {
			int d = 0;
			for (size_t u = t; o.via[u] >= 0 && d <= static_cast<int>(n); u = edges[o.via[u]].parent)
				d++;
			o.depth[t] = d;
		}

	// What would hold tenant rows if nothing were blocked, ambiguous or excluded: the tables that
	// are gaps (an excluded table itself is not: excluding it said so; what hangs from it is).
	std::vector<bool> all_but_excluded(n);
	for (size_t t = 0; t < n; t++)
		all_but_excluded[t] = tables[t].role != Role::Direct;
	std::vector<Table> unblocked = tables;
	for (auto &t : unblocked) {
		t.declared.clear();
		if (t.role == Role::Blocked && t.tenant_column)
			t.role = Role::Direct;
	}
	Graph open(unblocked, edges);
	Owners reach = spread(open, all_but_excluded);

	std::vector<Assignment> out(n);
	for (size_t t = 0; t < n; t++) {
		Assignment &a = out[t];
		if (tables[t].role == Role::Direct) {
			a.kind = Kind::Direct;
		} else if (o.owned[t]) {
			a.kind = Kind::Path;
			a.via = o.via[t];
			a.depth = o.depth[t];
		} else if (ambiguous[t]) {
			a.kind = Kind::Gap;
			a.candidates = candidates[t];
			a.gap = "its rows reach tenant rows through more than one foreign key: ";
			for (size_t i = 0; i < a.candidates.size(); i++)
				a.gap += (i ? ", " : "") + describe(g, a.candidates[i]);
			a.gap += "; declare which one ownership follows";
		} else if (tables[t].role == Role::Candidate && !tables[t].declared.empty() && g.declared_edge(t) < 0) {
			a.kind = Kind::Gap;
			a.gap = "the declared foreign key " + tables[t].declared + " does not exist on it";
		} else if (tables[t].role == Role::Candidate && !tables[t].declared.empty()) {
			a.kind = Kind::Gap;
			a.gap = "the declared foreign key " + describe(g, g.declared_edge(t)) + " does not lead to tenant rows";
		} else if (tables[t].role == Role::Blocked && (reach.owned[t] || tables[t].tenant_column)) {
			a.kind = Kind::Gap;
			a.gap = tables[t].blocked_reason;
		} else if (reach.owned[t] && tables[t].role == Role::Candidate) {
			a.kind = Kind::Gap;
			size_t through = edges[reach.via[t]].parent;
			a.gap = "its rows reach tenant rows only through " + tables[through].name + ", which backups leave out";
		}
	}
	// Shared: referenced by tenant rows, holding none.
	for (const auto &e : edges)
		if (out[e.parent].kind == Kind::Unrelated && e.child != e.parent &&
		    (out[e.child].kind == Kind::Direct || out[e.child].kind == Kind::Path))
			out[e.parent].kind = Kind::Shared;
	return out;
}

std::vector<size_t> path_of(size_t table, const std::vector<Assignment> &assignments, const std::vector<Edge> &edges) {
	std::vector<size_t> path;
	for (size_t t = table; assignments[t].kind == Kind::Path && path.size() <= assignments.size();) {
		path.push_back(static_cast<size_t>(assignments[t].via));
		t = edges[assignments[t].via].parent;
	}
	return path;
}

} // namespace tb::ownership
