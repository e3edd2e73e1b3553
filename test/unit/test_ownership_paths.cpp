// Which foreign key each table's ownership follows: chains, self-references, cycles, ambiguity,
// declarations, and gaps (tables that would hold tenant rows but cannot be backed up).
#include "core/ownership/ownership_paths.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace tb::ownership;

namespace {

// A schema described by table names and foreign keys "child->parent" named "child_parent".
struct Schema {
	std::vector<Table> tables;
	std::vector<Edge> edges;
	std::map<std::string, size_t> index;

	size_t table(const std::string &name, Role role = Role::Candidate) {
		index[name] = tables.size();
		tables.push_back({name, role, "", "", false});
		return tables.size() - 1;
	}
	void fk(const std::string &child, const std::string &parent, const std::string &name = "") {
		edges.push_back({name.empty() ? child + "_" + parent : name, index.at(child), index.at(parent)});
	}
	std::vector<Assignment> resolve() const { return tb::ownership::resolve(tables, edges); }
	// "comments_tasks,tasks_projects" for comments' path.
	std::string path(const std::vector<Assignment> &a, const std::string &name) const {
		std::string out;
		for (size_t e : path_of(index.at(name), a, edges))
			out += (out.empty() ? "" : ",") + edges[e].constraint;
		return out;
	}
	const Assignment &of(const std::vector<Assignment> &a, const std::string &name) const { return a[index.at(name)]; }
};

// A rental references a customer and an inventory item, which may belong to different stores.
Schema rentals() {
	Schema s;
	s.table("customer", Role::Direct);
	s.table("inventory", Role::Direct);
	s.table("rental");
	s.table("payment");
	s.fk("rental", "customer");
	s.fk("rental", "inventory");
	s.fk("payment", "rental");
	return s;
}

} // namespace

TEST(OwnershipPaths, ChainOfDepthThree) {
	Schema s;
	s.table("projects", Role::Direct);
	s.table("tasks");
	s.table("comments");
	s.table("reactions");
	s.fk("tasks", "projects");
	s.fk("comments", "tasks");
	s.fk("reactions", "comments");
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "projects").kind, Kind::Direct);
	EXPECT_EQ(s.of(a, "reactions").kind, Kind::Path);
	EXPECT_EQ(s.of(a, "reactions").depth, 3);
	EXPECT_EQ(s.path(a, "reactions"), "reactions_comments,comments_tasks,tasks_projects");
	EXPECT_EQ(s.path(a, "tasks"), "tasks_projects");
	EXPECT_EQ(s.path(a, "projects"), "");
}

TEST(OwnershipPaths, SelfReferenceIsNotAPath) {
	Schema s;
	s.table("tasks", Role::Direct);
	s.table("comments");
	s.fk("comments", "tasks");
	s.fk("comments", "comments", "comments_parent");
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "comments").kind, Kind::Path);
	EXPECT_EQ(s.path(a, "comments"), "comments_tasks");
}

TEST(OwnershipPaths, TwoForeignKeysToTenantRowsAreAmbiguousAndNamed) {
	Schema s = rentals();
	auto a = s.resolve();
	const Assignment &rental = s.of(a, "rental");
	EXPECT_EQ(rental.kind, Kind::Gap);
	EXPECT_EQ(rental.candidates.size(), 2u);
	EXPECT_NE(rental.gap.find("rental_customer (to customer)"), std::string::npos) << rental.gap;
	EXPECT_NE(rental.gap.find("rental_inventory (to inventory)"), std::string::npos) << rental.gap;
	// What reaches tenant rows only through the ambiguous table is a gap too, never guessed.
	EXPECT_EQ(s.of(a, "payment").kind, Kind::Gap);
	EXPECT_NE(s.of(a, "payment").gap.find("only through rental"), std::string::npos);
}

TEST(OwnershipPaths, ADeclarationResolvesTheAmbiguity) {
	Schema s = rentals();
	s.tables[s.index["rental"]].declared = "rental_inventory";
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "rental").kind, Kind::Path);
	EXPECT_EQ(s.path(a, "rental"), "rental_inventory");
	EXPECT_EQ(s.path(a, "payment"), "payment_rental,rental_inventory");
}

TEST(OwnershipPaths, AShortcutBesideAChainIsAmbiguous) {
	// comments -> tasks -> projects and comments -> projects may disagree.
	Schema s;
	s.table("projects", Role::Direct);
	s.table("tasks");
	s.table("comments");
	s.fk("tasks", "projects");
	s.fk("comments", "tasks");
	s.fk("comments", "projects");
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "tasks").kind, Kind::Path);
	EXPECT_EQ(s.of(a, "comments").kind, Kind::Gap);
	EXPECT_EQ(s.of(a, "comments").candidates.size(), 2u);
}

TEST(OwnershipPaths, CyclesDoNotLoopNorCount) {
	// stores -> staff (manager) and staff -> stores, both without a tenant column, stores -> regions.
	Schema s;
	s.table("regions", Role::Direct);
	s.table("stores");
	s.table("staff");
	s.fk("stores", "regions");
	s.fk("stores", "staff", "stores_manager");
	s.fk("staff", "stores");
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "stores").kind, Kind::Path);
	EXPECT_EQ(s.path(a, "stores"), "stores_regions");
	EXPECT_EQ(s.of(a, "staff").kind, Kind::Path);
	EXPECT_EQ(s.path(a, "staff"), "staff_stores,stores_regions");
}

TEST(OwnershipPaths, ACycleBetweenTenantTablesLeavesThemDirect) {
	Schema s;
	s.table("stores", Role::Direct);
	s.table("staff", Role::Direct);
	s.fk("stores", "staff");
	s.fk("staff", "stores");
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "stores").kind, Kind::Direct);
	EXPECT_EQ(s.of(a, "staff").kind, Kind::Direct);
}

TEST(OwnershipPaths, ReferencedTablesWithoutTenantRowsAreShared) {
	Schema s;
	s.table("countries");
	s.table("customers", Role::Direct);
	s.table("orders");
	s.table("plans", Role::Excluded);
	s.table("unrelated");
	s.fk("customers", "countries");
	s.fk("orders", "customers");
	s.fk("customers", "plans");
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "countries").kind, Kind::Shared);
	EXPECT_EQ(s.of(a, "plans").kind, Kind::Shared);
	EXPECT_EQ(s.of(a, "unrelated").kind, Kind::Unrelated);
	EXPECT_EQ(s.of(a, "orders").kind, Kind::Path);
}

TEST(OwnershipPaths, ExcludedTablesAreNotPathsAndWhatHangsFromThemIsAGap) {
	Schema s;
	s.table("projects", Role::Direct);
	s.table("logs", Role::Excluded);
	s.table("log_lines");
	s.fk("logs", "projects");
	s.fk("log_lines", "logs");
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "logs").kind, Kind::Unrelated);
	// Excluding a table says its rows are not tenant data, not those that hang from it: they stay
	// a gap until they are excluded too.
	EXPECT_EQ(s.of(a, "log_lines").kind, Kind::Gap);
	EXPECT_NE(s.of(a, "log_lines").gap.find("only through logs"), std::string::npos);
}

TEST(OwnershipPaths, BlockedTablesAndWhatHangsFromThemAreGaps) {
	Schema s;
	s.table("projects", Role::Direct);
	size_t tasks = s.table("tasks", Role::Blocked);
	s.tables[tasks].blocked_reason = "owner mallory is not trusted";
	size_t notes = s.table("notes", Role::Blocked);
	s.tables[notes].blocked_reason = "owner eve is not trusted";
	s.tables[notes].tenant_column = true;
	s.table("comments");
	s.table("note_lines");
	s.table("harmless", Role::Blocked);
	s.fk("tasks", "projects");
	s.fk("comments", "tasks");
	s.fk("note_lines", "notes");
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "tasks").kind, Kind::Gap);
	EXPECT_EQ(s.of(a, "tasks").gap, "owner mallory is not trusted");
	EXPECT_EQ(s.of(a, "comments").kind, Kind::Gap);
	EXPECT_NE(s.of(a, "comments").gap.find("only through tasks"), std::string::npos);
	EXPECT_EQ(s.of(a, "note_lines").kind, Kind::Gap);
	EXPECT_EQ(s.of(a, "notes").kind, Kind::Gap);
	EXPECT_EQ(s.of(a, "harmless").kind, Kind::Unrelated);
}

TEST(OwnershipPaths, DeclaredForeignKeysThatDoNotWorkAreGaps) {
	Schema s;
	s.table("projects", Role::Direct);
	s.table("countries");
	s.table("tasks");
	s.table("items");
	s.fk("tasks", "projects");
	s.fk("tasks", "countries");
	s.fk("items", "projects");
	s.tables[s.index["tasks"]].declared = "tasks_countries";
	s.tables[s.index["items"]].declared = "no_such_key";
	auto a = s.resolve();
	EXPECT_EQ(s.of(a, "tasks").kind, Kind::Gap);
	EXPECT_NE(s.of(a, "tasks").gap.find("does not lead to tenant rows"), std::string::npos);
	EXPECT_EQ(s.of(a, "items").kind, Kind::Gap);
	EXPECT_NE(s.of(a, "items").gap.find("no_such_key does not exist"), std::string::npos);
}

TEST(OwnershipPaths, ShortestChainWinsWhenLongerOnesGoThroughTheTableItself) {
	// a -> b -> a is a cycle; a -> root is the one path; b hangs from a.
	Schema s;
	s.table("root", Role::Direct);
	s.table("a");
	s.table("b");
	s.fk("a", "root");
	s.fk("a", "b");
	s.fk("b", "a");
	auto a = s.resolve();
	EXPECT_EQ(s.path(a, "a"), "a_root");
	EXPECT_EQ(s.path(a, "b"), "b_a,a_root");
}
