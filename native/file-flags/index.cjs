'use strict';
// The compiled addon (N-API, so one build serves Node and Electron alike).
module.exports = require('./build/Release/file_flags.node');
