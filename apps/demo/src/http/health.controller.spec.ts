import { redactUrl } from './health.controller';

describe('redactUrl (bundle sources in health details)', () => {
  it('drops credentials, the query string and the fragment of a URL; leaves a path alone', () => {
    expect(redactUrl('https://deploy:t0ken@bundles.example.com/acme.tar.gz?X-Amz-Signature=abc#x')).toBe(
      'https://bundles.example.com/acme.tar.gz',
    );
    expect(redactUrl('http://127.0.0.1:8080/b.zip')).toBe('http://127.0.0.1:8080/b.zip');
    expect(redactUrl('/srv/bundles/acme.tar.gz')).toBe('/srv/bundles/acme.tar.gz');
  });
});
