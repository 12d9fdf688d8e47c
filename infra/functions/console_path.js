// Viewer-request CloudFront Function (runtime cloudfront-js-2.0) on the console's files in S3, which has no
// index documents behind Origin Access Control: the addresses a browser is given or types become objects, as
// local/rest.py serves them. The site's root and /console lead to /console/; a folder is its index.html.

var CONSOLE = '/console/';

function redirect(statusCode, statusDescription) {
    return {statusCode: statusCode, statusDescription: statusDescription, headers: {location: {value: CONSOLE}}};
}

function handler(event) {
    var request = event.request;
    if (request.uri === '/') {
        return redirect(302, 'Found');
    }
    if (request.uri === '/console') {
        return redirect(308, 'Permanent Redirect');
    }
    if (request.uri.endsWith('/')) {
        request.uri += 'index.html';
    }
    return request;
}
