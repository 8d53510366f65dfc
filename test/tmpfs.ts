/**
 * A small tmpfs for a test (a full disk, a read-only file system): mounted
 * at a directory for the length of `use`, then unmounted, whatever
 * happened. Needs root; without it, `use` is not run and a notice says so.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync } from "node:fs"

const unmount = async (dir: string) => {
  // A process the test just killed may still hold a file there: wait until it lets go, then detach anyway.
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      execFileSync("umount", [dir], { stdio: "pipe" })
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  execFileSync("umount", ["-l", dir], { stdio: "pipe" })
}

/** Runs `use` with a tmpfs of `size` (as mount reads it: "1M") mounted at `dir`; false when it could not mount. */
export const withTmpfs = async (dir: string, size: string, use: () => Promise<void>): Promise<boolean> => {
  mkdirSync(dir, { recursive: true })
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" })
  } catch (error) {
    console.warn(`NOTICE: cannot mount a tmpfs (${(error as Error).message.split("\n")[0]}); test skipped.`)
    return false
  }
  try {
    await use()
  } finally {
    await unmount(dir)
  }
  return true
}

/** Remounts the tmpfs at `dir` with `options` (e.g. "ro", "size=64M"). */
export const remount = (dir: string, options: string) => execFileSync("mount", ["-o", `remount,${options}`, dir])
