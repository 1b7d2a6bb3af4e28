#!/usr/bin/env node
import { applyMemorySettings } from '../src/lib/memory-settings.ts'

// Before anything else is loaded: `stream` may start itself again with its memory settings.
applyMemorySettings(process.argv.slice(2))
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
