import { detectMultiInstancePlatform } from './platform';

describe('detectMultiInstancePlatform', () => {
  it.each([
    ['KUBERNETES_SERVICE_HOST', '10.96.0.1', 'Kubernetes'],
    ['DYNO', 'web.1', 'Heroku'],
    ['ECS_CONTAINER_METADATA_URI_V4', 'http://169.254.170.2/v4/abc', 'Amazon ECS'],
    ['ECS_CONTAINER_METADATA_URI', 'http://169.254.170.2/v3/abc', 'Amazon ECS'],
    ['K_SERVICE', 'api', 'Google Cloud Run'],
    ['GAE_INSTANCE', '00c61b117c', 'Google App Engine'],
    ['WEBSITE_INSTANCE_ID', 'a1b2', 'Azure App Service'],
    ['CONTAINER_APP_NAME', 'api', 'Azure Container Apps'],
    ['FLY_ALLOC_ID', 'b996131a', 'Fly.io'],
    ['RENDER_INSTANCE_ID', 'srv-abc-xyz', 'Render'],
    ['RAILWAY_REPLICA_ID', '7f1e', 'Railway'],
    ['NOMAD_ALLOC_ID', '5456bd7a', 'Nomad'],
  ])('%s=%s is %s', (variable, value, platform) => {
    expect(detectMultiInstancePlatform({ PATH: '/usr/bin', [variable]: value })).toEqual({ platform, variable });
  });

  it('sees nothing on a plain host, or in a variable set empty', () => {
    expect(detectMultiInstancePlatform({ PATH: '/usr/bin', HOME: '/root', HOSTNAME: 'box' })).toBeNull();
    expect(detectMultiInstancePlatform({ KUBERNETES_SERVICE_HOST: '', DYNO: '' })).toBeNull();
  });
});
