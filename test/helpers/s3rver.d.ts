// The parts of s3rver (which ships no types) the tests use.
declare module 's3rver' {
  import type { Server } from 'node:http'
  export default class S3rver {
    constructor(options: {
      address?: string
      port?: number
      silent?: boolean
      directory: string
      configureBuckets?: Array<{ name: string; configs: string[] }>
    })
    httpServer: Server | undefined
    run(): Promise<{ address: string; port: number }>
    close(): Promise<void>
  }
}

declare module 's3rver/lib/models/account.js' {
  const Account: { DUMMY_ACCOUNT: { createKeyPair: (accessKeyId: string, secretAccessKey: string) => void } }
  export default Account
}
