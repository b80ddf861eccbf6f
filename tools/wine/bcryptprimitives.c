/* Test set-up for ./x cross windows, not part of repy: Wine 8.0 has no bcryptprimitives.dll,
 * whose ProcessPrng the Rust standard library imports for random numbers, so no Rust program
 * starts (status c0000135). This stand-in answers with RtlGenRandom (advapi32's
 * SystemFunction036), which Wine does implement. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Returns TRUE always, as the real function does; a failure of the source is reported as
 * FALSE, which the standard library turns into a panic rather than weak bytes. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
