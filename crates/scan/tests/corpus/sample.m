#import <Foundation/Foundation.h>
// TODO: yes objc
NSString *s = @"// FIXME NOPE";
/* HACK yes block */
