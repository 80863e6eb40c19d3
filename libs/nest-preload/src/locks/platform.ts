/**
 * Platforms that run several instances of one app as a matter of course, each known by a variable
 * it sets in every instance's environment. Seeing one means "this process may well have siblings
 * on other hosts" — not proof, which is why it only ever warns.
 */
const PLATFORMS: ReadonlyArray<readonly [variable: string, platform: string]> = [
  ['KUBERNETES_SERVICE_HOST', 'Kubernetes'],
  ['DYNO', 'Heroku'],
  ['ECS_CONTAINER_METADATA_URI_V4', 'Amazon ECS'],
  ['ECS_CONTAINER_METADATA_URI', 'Amazon ECS'],
  ['K_SERVICE', 'Google Cloud Run'],
  ['GAE_INSTANCE', 'Google App Engine'],
  ['WEBSITE_INSTANCE_ID', 'Azure App Service'],
  ['CONTAINER_APP_NAME', 'Azure Container Apps'],
  ['FLY_ALLOC_ID', 'Fly.io'],
  ['RENDER_INSTANCE_ID', 'Render'],
  ['RAILWAY_REPLICA_ID', 'Railway'],
  ['NOMAD_ALLOC_ID', 'Nomad'],
];

/** The multi-instance platform this environment shows signs of, with the variable that told. */
export function detectMultiInstancePlatform(env: NodeJS.ProcessEnv = process.env): { platform: string; variable: string } | null {
  for (const [variable, platform] of PLATFORMS) if (env[variable]) return { platform, variable };
  return null;
}
