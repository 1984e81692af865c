/*
 * The floor of a boot: the least an /init can do. It says it ran, prints
 * the line the harness stops QEMU at (as gsi-init does after the suite),
 * and ends the machine. No libc, no stack protector: the kernel starts it
 * at _start with nothing set up, and every byte is unpacked by an emulated
 * CPU. Built by `cargo xtask bench` with the host's gcc; DONE_LINE and
 * EXIT_PORT come from gsi-plan's constants on the command line.
 */
#ifndef DONE_LINE
#error "DONE_LINE must be defined (the harness passes it)"
#endif
#ifndef EXIT_PORT
#error "EXIT_PORT must be defined (the harness passes it)"
#endif

#define SYS_write 1
#define SYS_pause 34
#define SYS_reboot 169
#define SYS_ioperm 173

static long syscall4(long n, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static void say(const char *s)
{
	long len = 0;

	while (s[len])
		len++;
	syscall4(SYS_write, 1, (long)s, len, 0);
}

void _start(void)
{
	say("gsi-floor: /init started; ending the machine\n");
	say(DONE_LINE);
	/* The harness stops QEMU at the line above; if it has not, end the
	 * machine as gsi-init does: the debug-exit port, then power-off. */
	if (syscall4(SYS_ioperm, EXIT_PORT, 4, 1, 0) == 0)
		__asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(EXIT_PORT));
	syscall4(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc, 0);
	for (;;)
		syscall4(SYS_pause, 0, 0, 0, 0);
}
