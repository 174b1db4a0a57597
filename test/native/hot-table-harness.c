/* Drives native/hot-table.c with injected time, for test/native/hot-table.test.ts.
 * Usage: hot-table-harness trickle MAX SECONDS
 *   Fills a table of MAX entries with bans expiring 1 ms apart, then, from the
 *   first expiry on, inserts a new ban every millisecond for SECONDS seconds
 *   (the steady state of an attacker whose hour-old bans expire as new ones
 *   are made). Prints "sweeps N stored S refused R". */
#include "../../native/hot-table.c"
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[1], "trickle") != 0)
		return 2;
	uint32_t max = (uint32_t)atoi(argv[2]);
	int seconds = atoi(argv[3]);
	struct hot_table t;
	if (hot_table_init(&t, max) != 0)
		return 3;
	const uint64_t ms = 1000000ULL, hour = 3600000ULL * ms;
	uint64_t now = 1000 * ms;
	uint8_t a[16] = {0x20, 0x01}; /* a + 4: the /64 is the key */
	uint32_t k = 0;
	for (; k < max; k++) {
		memcpy(a + 4, &k, 4);
		if (!hot_table_set(&t, 6, a, 1, now + hour + k * ms, now))
			return 4;
	}
	now += hour;
	long stored = 0, refused = 0;
	for (int i = 0; i < seconds * 1000; i++, k++, now += ms) {
		memcpy(a + 4, &k, 4);
		if (hot_table_set(&t, 6, a, 1, now + hour, now))
			stored++;
		else
			refused++;
	}
	printf("sweeps %llu stored %ld refused %ld\n", (unsigned long long)t.sweeps, stored, refused);
	hot_table_free(&t);
	return 0;
}
