/*
 * A stand-in for the header of Apple's SDK that C code (ring's) includes to learn which
 * Apple system it is built for. There is no SDK on Linux, and nothing is linked for macOS
 * here: `./x cross macos-x86_64|macos-aarch64 check` only type-checks, and needs these
 * answers to get that far. Test set-up, not product.
 */
#ifndef REPY_STUB_TARGET_CONDITIONALS_H
#define REPY_STUB_TARGET_CONDITIONALS_H
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_TV 0
#define TARGET_OS_VISION 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 0
#endif
