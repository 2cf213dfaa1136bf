/*
 * The version oracle of the tests: reads NUL-separated pairs of versions
 * on stdin and prints, one a line, what libalpm's alpm_pkg_vercmp (the
 * function pacman and its vercmp tool compare versions with) says of each.
 * One process for thousands of pairs, where vercmp takes a process a pair.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

/* alpm.h's declaration; the header itself needs libarchive's headers. */
int alpm_pkg_vercmp(const char *a, const char *b);

int main(void)
{
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	for (;;) {
		if (getdelim(&a, &alen, '\0', stdin) < 0)
			break;
		if (getdelim(&b, &blen, '\0', stdin) < 0) {
			fputs("alpm_vercmp: odd number of versions\n", stderr);
			return 2;
		}
		printf("%d\n", alpm_pkg_vercmp(a, b));
	}
	if (ferror(stdin) || fflush(stdout) != 0) {
		perror("alpm_vercmp");
		return 2;
	}
	return 0;
}
