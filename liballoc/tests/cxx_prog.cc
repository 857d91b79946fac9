// C++ workload for t_preload: new/delete, containers, strings. Prints a
// checksum, and whether liballoc (found via dlsym) served the allocations.
#include <dlfcn.h>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct stats_hdr {
	uint32_t version, size;
	uint64_t bytes_in_use;
	uint64_t rest[32];
};

static uint64_t in_use()
{
	auto fn = (int (*)(stats_hdr *))dlsym(RTLD_DEFAULT, "la_stats");
	if (!fn)
		return 0;
	stats_hdr st{};
	st.version = 1;
	st.size = sizeof st;
	fn(&st);
	return st.bytes_in_use;
}

int main()
{
	uint64_t before = in_use();
	std::map<std::string, std::vector<int>> m;
	std::vector<std::unique_ptr<uint64_t[]>> arrays;
	uint64_t sum = 0;
	for (int i = 0; i < 20000; i++) {
		std::string k = "key-" + std::to_string(i * 7919 % 10007);
		m[k].push_back(i);
		arrays.emplace_back(new uint64_t[16]{ (uint64_t)i });
	}
	uint64_t during = in_use();
	for (auto &kv : m)
		for (int v : kv.second)
			sum = sum * 31 + (uint64_t)v + kv.first.size();
	for (auto &a : arrays)
		sum += a[0];
	int *one = new int(42);
	sum += (uint64_t)*one;
	delete one;
	std::printf("checksum %llu entries %zu\n", (unsigned long long)sum, m.size());
	std::fprintf(stderr, "served %d\n", during > before + 20000 * 128);
	return 0;
}
