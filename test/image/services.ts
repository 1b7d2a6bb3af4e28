// The services of compose.yaml that the image test starts from the image, each with the
// `cellstream` command it runs. The compose and Kubernetes checks compare against this.
export const IMAGE_TEST_SERVICES = {
  migrate: ['db', 'migrate'],
  mirror: ['mirror'],
  stream: ['stream'],
  simulator: ['simulate'],
  compactor: ['compact', '--watch'],
  web: ['web']
} as const satisfies Record<string, readonly string[]>

export type ServiceName = keyof typeof IMAGE_TEST_SERVICES
