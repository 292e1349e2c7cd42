/* SPDX-License-Identifier: MIT */
/* The ipcx tool's entry point; everything else is in cli_main (main.c). */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
