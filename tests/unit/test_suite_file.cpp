// Suite files and case labels: "servers" as "all" or {"all_except": [...]},
// every case parameter through the one table (parse, run.json, loadgen
// options), and a record's name built from its parts (server, variant,
// case_id), with a run written before records carried them still giving its
// case_id back.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/run/case_record.h"
#include "harness/run/suite.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

TEST(CaseLabel, NameIsServerVariantAndCaseId) {
  CaseParams p;
  p.connections = 4;
  EXPECT_EQ(case_label("epoll_lt", {}, p).name(), "epoll_lt/echo/c4/s64");
  const CaseLabel v = case_label("io_uring_multishot", {"--setup", "plain"}, p);
  EXPECT_EQ(v.variant, "--setup plain");
  EXPECT_EQ(v.case_id, "echo/c4/s64");
  EXPECT_EQ(v.name(), "io_uring_multishot[--setup plain]/echo/c4/s64");
  EXPECT_EQ((CaseLabel{"epoll_lt", "aa", "echo/c4/s64", ""}.name()), "epoll_lt[aa]/echo/c4/s64");
  EXPECT_EQ((CaseLabel{"epoll_lt", "", "echo/c4/s64", "fixed-load"}.name()), "fixed-load/epoll_lt/echo/c4/s64");
}

TEST(CaseLabel, RecordCarriesItsParts) {
  CaseParams p;
  p.rate = 10000;
  const json r = new_case_record({"epoll_lt", "ref cost", p.id(), ""}, "cost", p, {});
  EXPECT_EQ(r["name"], "epoll_lt[ref cost]/echo/c16/s64/r10000");
  EXPECT_EQ(r["server"], "epoll_lt");
  EXPECT_EQ(r["variant"], "ref cost");
  EXPECT_EQ(r["case_id"], "echo/c16/s64/r10000");
  EXPECT_EQ(r["group"], "cost");
  EXPECT_FALSE(r.contains("server_args"));
  EXPECT_EQ(case_id_of(r), "echo/c16/s64/r10000");
}

TEST(CaseLabel, CaseIdOfARunWrittenBeforeTheField) {
  EXPECT_EQ(case_id_of({{"name", "epoll_lt/echo/c16/s64"}}), "echo/c16/s64");
  EXPECT_EQ(case_id_of({{"name", "epoll_lt[A/A]/echo/c16/s64/p16"}}), "echo/c16/s64/p16");
  EXPECT_EQ(case_id_of({{"name", "fixed-load/libuv[--try-write 0]/http/c64/s64"}}), "http/c64/s64");
  EXPECT_EQ(case_id_of({{"name", "fixed-load/epoll_lt/echo/c16/s64/r25000"}}), "echo/c16/s64/r25000");
  // The field wins over the name.
  EXPECT_EQ(case_id_of({{"name", "a/echo/c1/s64"}, {"case_id", "echo/c2/s64"}}), "echo/c2/s64");
}

const std::vector<std::string> kList = {"blocking_threads", "select", "poll", "epoll_lt"};

Suite parse(const std::string& text) { return parse_suite(json::parse(text), "t.json", &kList); }

// The message of the SuiteError `text` throws, or "" when it parses.
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const SuiteError& e) {
    return e.what();
  }
  return "";
}

TEST(SuiteServers, AllAndAllExceptFollowTheListOrder) {
  EXPECT_EQ(parse(R"({"name": "x", "servers": "all", "groups": [{}]})").servers, kList);
  EXPECT_EQ(parse(R"({"name": "x", "groups": [{}]})").servers, kList);
  EXPECT_EQ(parse(R"({"name": "x", "servers": {"all_except": ["select", "poll"]}, "groups": [{}]})").servers,
            (std::vector<std::string>{"blocking_threads", "epoll_lt"}));
  // A group may say it too.
  const Suite g = parse(R"({"name": "x", "servers": ["epoll_lt"],
                            "groups": [{"servers": {"all_except": ["select"]}}]})");
  EXPECT_EQ(g.cases.at(0).servers, (std::vector<std::string>{"blocking_threads", "poll", "epoll_lt"}));
}

TEST(SuiteServers, BadSpellingsNameTheKey) {
  EXPECT_EQ(error_of(R"({"name": "x", "servers": {"all_except": ["selct"]}, "groups": [{}]})"),
            "servers.all_except[0]: unknown server 'selct'");
  EXPECT_EQ(error_of(R"({"name": "x", "servers": {"all_except": []}, "groups": [{}]})"),
            "servers.all_except: expected a non-empty list of server names");
  EXPECT_NE(error_of(R"({"name": "x", "servers": {"all_but": ["select"]}, "groups": [{}]})")
                .find("servers: expected {\"all_except\""),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"name": "x", "groups": [{"servers": {"all_except": ["blocking_threads", "select", "poll",
                                                                         "epoll_lt"]}}]})"),
            "groups[0].servers.all_except: leaves no server to run");
  EXPECT_EQ(error_of(R"({"name": "x", "servers": "most", "groups": [{}]})"),
            "servers: expected \"all\", {\"all_except\": [...]} or a non-empty list of server names");
}

// Every parameter survives run.json's params and back, under its run.json
// name: a parameter left out of the table would come back as its default.
TEST(SuiteParams, EveryParameterRoundTripsThroughRunJson) {
  const Suite s = parse(R"({"name": "x", "servers": ["epoll_lt"], "groups": [{
      "protocol": "framed", "connections": 3, "size": "10-20", "pipeline": 4, "rate": 123.5,
      "requests_per_connection": 5, "idle_connections": 6, "loadgen_threads": 2, "server_threads": 7,
      "duration": 1.5, "warmup": 0.25, "timeout": 9}]})");
  const CaseParams& p = s.cases.at(0).params;
  EXPECT_EQ(p.protocol, "framed");
  EXPECT_EQ(p.server_threads, 7);
  EXPECT_DOUBLE_EQ(p.duration_s, 1.5);
  EXPECT_TRUE(p.pipeline_set);
  const json j = p.to_json();
  EXPECT_EQ(j.size(), 12u) << j.dump();
  EXPECT_EQ(j["duration_s"], 1.5);
  EXPECT_EQ(j["timeout_s"], 9.0);
  EXPECT_EQ(CaseParams::from_json(j), p);
  EXPECT_NE(CaseParams::from_json(json::object()), p);
}

TEST(SuiteParams, LoadgenOptionsFromTheTable) {
  CaseParams p;
  p.rate = 10000;
  const std::vector<std::string> want = {"--protocol", "echo", "--connections", "16", "--size", "64", "--rate",
                                         "10000", "--requests-per-connection", "0", "--idle-connections", "0",
                                         "--threads", "1", "--duration", "2", "--warmup", "0.5", "--timeout", "5"};
  EXPECT_EQ(p.loadgen_args(), want);  // no --pipeline: the suite did not name it
  p.pipeline = 8;
  p.pipeline_set = true;
  const auto with = p.loadgen_args();
  EXPECT_EQ(std::vector<std::string>(with.begin() + 6, with.begin() + 8), (std::vector<std::string>{"--pipeline", "8"}));
}

TEST(SuiteParams, UnknownParameterListsTheKnownOnes) {
  EXPECT_EQ(error_of(R"({"name": "x", "groups": [{"durration": 1}]})"),
            "groups[0].durration: unknown parameter (known: protocol, connections, size, pipeline, rate, "
            "requests_per_connection, idle_connections, loadgen_threads, server_threads, duration, warmup, timeout)");
}

}  // namespace
}  // namespace iomodels::harness
